"""
Customer status emails for returns, sent through the delivery app's email channel (HTML +
text from templates/returns/email/; the local sink when no mail server is configured).
The one-time access link (returns.services.customers) goes the same way. Services enqueue
them after commit; a temporary channel error is retried by the task, a permanent one (the
customer's address refused) is logged and dropped.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.template.loader import render_to_string

from delivery.channels import ChannelError, OutboundMessage, get_channel
from returns.models import CustomerAccessLink, ReturnRequest

logger = logging.getLogger(__name__)

SUBJECTS = {
    "initiated": "We received your return request {rma}",
    "approved": "Your return {rma} is approved",
    "rejected": "About your return request {rma}",
    "received": "We received the items of return {rma}",
    "completed": "Your refund for return {rma} is on its way",
    "cancelled": "Your return {rma} is cancelled",
}


def send_return_status_email(*, return_id: int, status: str) -> bool:
    """Email the customer about `status`; False when there is nobody to email."""
    return_request = ReturnRequest.objects.select_related("order").get(pk=return_id)
    recipient = return_request.order.customer_email
    if not recipient or status not in SUBJECTS:
        return False
    context = {
        "return_request": return_request,
        "order": return_request.order,
        "items": list(return_request.items.select_related("line")),
        "status": status,
        "support_email": settings.DEFAULT_FROM_EMAIL,
    }
    message = OutboundMessage(
        subject=SUBJECTS[status].format(rma=return_request.rma_number),
        text=render_to_string("returns/email/status.txt", context),
        html=render_to_string("returns/email/status.html", context),
    )
    try:
        get_channel("email").send(recipient, message)
    except ChannelError as exc:
        if exc.is_temporary:
            raise
        logger.warning(
            "return status email refused",
            extra={"return_id": return_id, "status": status, **exc.as_metadata()},
        )
        return False
    return True


def send_customer_access_link_email(*, link_id: int) -> bool:
    """Email a fresh one-time access link to the order's address; False if it is spent."""
    from returns.services.customers import customer_access_link_issue, customer_access_link_url

    link = CustomerAccessLink.objects.select_related("order").filter(pk=link_id).first()
    if link is None:
        return False
    token = customer_access_link_issue(link_id=link.pk)
    if token is None:
        return False
    context = {
        "order": link.order,
        "url": customer_access_link_url(token),
        "hours": settings.RETURNS_ACCESS_LINK_HOURS,
        "support_email": settings.DEFAULT_FROM_EMAIL,
    }
    message = OutboundMessage(
        subject=f"Follow the returns of order {link.order.external_id}",
        text=render_to_string("returns/email/access_link.txt", context),
        html=render_to_string("returns/email/access_link.html", context),
    )
    try:
        get_channel("email").send(link.email, message)
    except ChannelError as exc:
        if exc.is_temporary:
            raise
        logger.warning(
            "returns access link email refused", extra={"link_id": link_id, **exc.as_metadata()}
        )
        return False
    return True
