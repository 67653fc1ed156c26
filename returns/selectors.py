"""Reads for the returns app."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet
from django.utils import timezone

from returns.models import CustomerAccess, Order, RefundState, ReturnRequest


def customer_ids_for_user(user: AbstractBaseUser | None) -> QuerySet:
    """Primary keys of the customers `user` was verified to act for (never from a username)."""
    if user is None or not user.is_authenticated:
        return CustomerAccess.objects.none().values("customer_id")
    return CustomerAccess.objects.filter(user=user).values("customer_id")


def user_acts_for_customer(*, user: AbstractBaseUser | None, customer_id: int) -> bool:
    return customer_ids_for_user(user).filter(customer_id=customer_id).exists()


def is_returns_staff(user: AbstractBaseUser | None) -> bool:
    return bool(
        user
        and user.is_authenticated
        and user.is_staff
        and user.has_perm("returns.process_returnrequest")
    )


def order_get_for_user(*, order_id: str, user: AbstractBaseUser | None) -> Order | None:
    orders = Order.objects.filter(external_id=order_id)
    if user is not None and not is_returns_staff(user):
        orders = orders.filter(customer_id__in=customer_ids_for_user(user))
    return orders.first()


def return_request_list(*, user: AbstractBaseUser) -> QuerySet[ReturnRequest]:
    returns = ReturnRequest.objects.select_related("order").prefetch_related("items__line")
    if is_returns_staff(user):
        return returns
    return returns.filter(customer_id__in=customer_ids_for_user(user))


def return_request_get(*, rma_number: str, user: AbstractBaseUser) -> ReturnRequest | None:
    return return_request_list(user=user).filter(rma_number=rma_number.strip().upper()).first()


def return_request_queue(step: str) -> QuerySet[ReturnRequest]:
    """Returns waiting on one step of the desk's work (the admin queue)."""
    Status = ReturnRequest.Status
    queues = {
        "awaiting_approval": Q(status=Status.PENDING),
        "awaiting_parcel": Q(status__in=[Status.APPROVED, Status.SHIPPED], returnless=False),
        "awaiting_inspection": Q(status=Status.RECEIVED),
        "awaiting_refund": Q(status=Status.INSPECTING)
        | Q(status=Status.APPROVED, returnless=True)
        | Q(status=Status.RECEIVED, refund_state__in=[RefundState.FAILED, RefundState.REJECTED]),
        "refund_failed": Q(refund_state__in=[RefundState.FAILED, RefundState.REJECTED])
        & ~Q(status=Status.COMPLETED),
    }
    return ReturnRequest.objects.filter(queues[step])


QUEUE_STEPS = {
    "awaiting_approval": "Waiting for approval",
    "awaiting_parcel": "Waiting for the parcel",
    "awaiting_inspection": "Received, waiting for inspection",
    "awaiting_refund": "Waiting for completion / refund",
    "refund_failed": "Refund failed",
}


def refunds_to_retry(*, stale_after: timedelta, max_attempts: int) -> QuerySet[ReturnRequest]:
    """Returns whose refund failed (retryable) or whose in-flight refund was abandoned."""
    Status = ReturnRequest.Status
    stale = timezone.now() - stale_after
    return ReturnRequest.objects.filter(
        Q(refund_state=RefundState.FAILED, refund_attempts__lt=max_attempts)
        | Q(refund_state=RefundState.PENDING, refund_started_at__lt=stale),
        status__in=[Status.APPROVED, Status.RECEIVED, Status.INSPECTING],
    ).order_by("refund_started_at", "id")
