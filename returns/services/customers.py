"""
Storefront customers and the people verified to act for them.

A customer is the orders service's record (id, email, name), never a Django user. A user
reaches a customer's orders and returns only through a `CustomerAccess`, made when they
open a one-time link that was emailed to an order's address: asking for one takes the
order number and that address, and the answer is the same whether or not they match.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from returns.errors import CustomerAccessLinkInvalidError
from returns.models import Customer, CustomerAccess, CustomerAccessLink, Order

_SALT = "returns.customer-access-link"


def customer_upsert(*, external_id: str, email: str = "", name: str = "") -> Customer:
    """The customer the orders service calls `external_id`, with its latest email and name."""
    customer, created = Customer.objects.get_or_create(
        external_id=external_id, defaults={"email": email or "", "name": name or ""}
    )
    if not created:
        changed = {
            field: value
            for field, value in (("email", email), ("name", name))
            if value and getattr(customer, field) != value
        }
        if changed:
            for field, value in changed.items():
                setattr(customer, field, value)
            customer.save(update_fields=[*changed, "updated_at"])
    return customer


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def customer_access_link_request(*, order_id: str, email: str) -> None:
    """Email a one-time link to the order's address if `email` is that address.

    Returns nothing either way, so the caller cannot tell whether the order exists or the
    address matched. The secret is made by the sending task, never stored or queued.
    """
    wanted = (email or "").strip().lower()
    order = (
        Order.objects.select_related("customer").filter(external_id=str(order_id).strip()).first()
    )
    if order is None or not wanted or order.customer_email.strip().lower() != wanted:
        return
    link = CustomerAccessLink.objects.create(
        customer=order.customer,
        order=order,
        email=order.customer_email,
        expires_at=timezone.now() + timedelta(hours=settings.RETURNS_ACCESS_LINK_HOURS),
    )
    from returns.tasks import customer_access_link_send_task

    link_id = link.pk

    # A named function, not a partial: Django logs a robust callback's failure by its
    # __qualname__, which a partial does not have.
    def send_access_link() -> None:
        customer_access_link_send_task.delay(link_id)

    transaction.on_commit(send_access_link, robust=True)


def customer_access_link_issue(*, link_id: int) -> str | None:
    """A fresh token for the link (its hash replaces any earlier one); None if it is spent."""
    secret = secrets.token_urlsafe(32)
    updated = CustomerAccessLink.objects.filter(
        pk=link_id, used_at__isnull=True, expires_at__gt=timezone.now()
    ).update(secret_hash=_hash(secret))
    if not updated:
        return None
    return signing.TimestampSigner(salt=_SALT).sign_object({"l": link_id, "s": secret})


def customer_access_link_url(token: str) -> str:
    return settings.RETURNS_ACCESS_LINK_URL.replace("{token}", token)


@transaction.atomic
def customer_access_confirm(*, token: str, user: AbstractBaseUser) -> CustomerAccess:
    """Spend the link and record that `user` acts for its customer (idempotent per pair)."""
    max_age = timedelta(hours=settings.RETURNS_ACCESS_LINK_HOURS)
    try:
        data = signing.TimestampSigner(salt=_SALT).unsign_object(token or "", max_age=max_age)
        link_id, secret = int(data["l"]), str(data["s"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise CustomerAccessLinkInvalidError() from exc
    link = CustomerAccessLink.objects.select_for_update().filter(pk=link_id).first()
    if (
        link is None
        or link.used_at is not None
        or link.expires_at <= timezone.now()
        or not link.secret_hash
        or not constant_time_compare(link.secret_hash, _hash(secret))
    ):
        raise CustomerAccessLinkInvalidError()
    now = timezone.now()
    link.used_at = now
    link.used_by = user
    link.save(update_fields=["used_at", "used_by"])
    access, _created = CustomerAccess.objects.get_or_create(
        user=user,
        customer_id=link.customer_id,
        defaults={"verified_at": now, "method": CustomerAccess.Method.EMAIL_LINK, "link": link},
    )
    return access
