"""
Customer status emails for returns. One function sends them with Django's email API
(HTML + text from templates/returns/email/); services enqueue it after commit. When the
delivery app's email channel exists, this function is the one place to move onto it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from returns.models import ReturnRequest

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
    message = EmailMultiAlternatives(
        subject=SUBJECTS[status].format(rma=return_request.rma_number),
        body=render_to_string("returns/email/status.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
        headers={"X-Frontline-RMA": return_request.rma_number},
    )
    message.attach_alternative(render_to_string("returns/email/status.html", context), "text/html")
    message.send()
    return True
