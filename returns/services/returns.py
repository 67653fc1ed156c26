"""
ReturnsService: the returns desk from request to refund (seed 003 Task 3).

Every method is one unit of work: lock the return's row, check and transition its state,
save, append the audit row, publish the domain event (outbox, same transaction) and enqueue
the customer email after commit. Refunds to the original payment call the payments service
outside any transaction: the intent is committed first (refund_state=pending), the call
carries the return's idempotency key, and the outcome is committed after; a failure leaves
the return retryable and `retry_refunds` (beat) tries again.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from core.money import quantize
from core.outbox import publish_event
from returns import refunds
from returns.audit import actor_of, audit_log_write
from returns.calculator import RefundCalculator
from returns.errors import (
    InvalidQuantityError,
    InvalidRefundAmountError,
    InvalidStateError,
    ItemNotReturnableError,
    ItemsNotReceivedError,
    OrderNotFoundError,
    RefundFailedError,
    RefundInProgressError,
    RefundRejectedError,
    ReturnNotFoundError,
    ReturnWindowExpiredError,
)
from returns.models import (
    Order,
    RefundMethod,
    RefundState,
    ReturnItem,
    ReturnReason,
    ReturnRequest,
)
from returns.payments import PaymentsClient, PaymentsRejectedError, PaymentsUnavailableError
from returns.policy import PolicyEngine, ReturnPolicy
from returns.results import (
    ApprovalResult,
    CompletionResult,
    EligibilityResult,
    EligibleItem,
    IneligibleItem,
    InventoryUpdate,
    ItemReceipt,
    ReceiptResult,
    RefundBreakdown,
    ReturnItemData,
    ReturnRequestData,
    ShippingLabel,
)
from returns.selectors import is_returns_staff, refunds_to_retry, user_acts_for_customer
from returns.shipping import CarrierClient, LabelRequest, carrier_client

logger = logging.getLogger(__name__)

Status = ReturnRequest.Status
User = AbstractBaseUser
ZERO = Decimal("0")
HUNDRED = Decimal("100")
# Crockford's alphabet without I, L, O, U: nothing a customer can misread on a parcel.
RMA_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RMA_LENGTH = 6


@dataclass(frozen=True)
class RetryOutcome:
    attempted: int
    completed: int
    failed: int


def _new_rma_number() -> str:
    while True:
        rma = "R" + "".join(secrets.choice(RMA_ALPHABET) for _ in range(RMA_LENGTH))
        if not ReturnRequest.objects.filter(rma_number=rma).exists():
            return rma


def _money(value: Any, field: str) -> Decimal:
    if isinstance(value, (bool, float)):
        raise ValidationError({field: "Give money as a string or Decimal, not a float."})
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError({field: "Not an amount."}) from exc
    if not amount.is_finite() or amount < 0:
        raise ValidationError({field: "Must be a non-negative amount."})
    return amount


def _positive_int(value: Any, *, allow_zero: bool = False) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    if number != value and str(number) != str(value):
        return None
    return number if (number > 0 or (allow_zero and number == 0)) else None


def _event_payload(return_request: ReturnRequest, **extra: Any) -> dict[str, Any]:
    return {
        "return_id": return_request.pk,
        "rma_number": return_request.rma_number,
        "order_id": return_request.order.external_id,
        "customer_id": return_request.customer.external_id,
        "status": return_request.status,
        "reason": return_request.reason,
        **extra,
    }


def _email_on_commit(return_request: ReturnRequest, status: str) -> None:
    from returns.tasks import return_status_email_send_task

    return_id = return_request.pk

    # A named function, not a partial: Django logs a robust callback's failure by its
    # __qualname__, which a partial does not have.
    def send_status_email() -> None:
        return_status_email_send_task.delay(return_id, status)

    transaction.on_commit(send_status_email, robust=True)


def to_data(return_request: ReturnRequest) -> ReturnRequestData:
    return ReturnRequestData(
        id=return_request.pk,
        rma_number=return_request.rma_number,
        order_id=return_request.order.external_id,
        status=return_request.status,
        items=tuple(
            ReturnItemData(
                line_item_id=item.line.external_id,
                product_id=item.product_id,
                quantity=item.quantity_requested,
                condition=item.expected_condition,
            )
            for item in return_request.items.select_related("line")
        ),
        reason=return_request.reason,
        created_at=return_request.created_at,
        returnless=return_request.returnless,
        estimated_refund=return_request.estimated_refund_amount,
    )


class ReturnsService:
    """The public service layer of returns; every method is keyword-only and transactional."""

    def __init__(
        self,
        *,
        policy: ReturnPolicy | None = None,
        payments_client: PaymentsClient | None = None,
        carrier: CarrierClient | None = None,
        now: datetime | None = None,
    ):
        self.policy = policy or ReturnPolicy.from_settings()
        self.engine = PolicyEngine(self.policy, now=now)
        self.calculator = RefundCalculator()
        self._payments_client = payments_client
        self._carrier = carrier

    @property
    def payments_client(self) -> PaymentsClient:
        if self._payments_client is None:
            self._payments_client = PaymentsClient()
        return self._payments_client

    @property
    def carrier(self) -> CarrierClient:
        if self._carrier is None:
            self._carrier = carrier_client()
        return self._carrier

    # --- helpers --------------------------------------------------------------------------

    @staticmethod
    def _locked(return_id: int | str) -> ReturnRequest:
        returns = ReturnRequest.objects.select_for_update(of=("self",)).select_related(
            "order", "customer"
        )
        try:
            if isinstance(return_id, int) or str(return_id).isdigit():
                return returns.get(pk=int(return_id))
            return returns.get(rma_number=str(return_id).strip().upper())
        except ReturnRequest.DoesNotExist as exc:
            raise ReturnNotFoundError(return_id=str(return_id)) from exc

    @staticmethod
    def _check_owner(order: Order, acting_user: User | None, error: Exception) -> None:
        """No user is the system; returns staff act for anyone; anyone else only for the
        customers they were verified to act for (returns.services.customers)."""
        if acting_user is None or is_returns_staff(acting_user):
            return
        if not user_acts_for_customer(user=acting_user, customer_id=order.customer_id):
            raise error

    @staticmethod
    def _refuse(return_request: ReturnRequest, action: str) -> InvalidStateError:
        return InvalidStateError(
            f"A {return_request.get_status_display().lower()} return cannot be {action}.",
            status=return_request.status,
            action=action,
        )

    def _audit(
        self,
        return_request: ReturnRequest,
        action: str,
        acting_user: User | None,
        previous_state: str = "",
        metadata: dict | None = None,
    ) -> None:
        actor_id, actor_type = actor_of(acting_user)
        audit_log_write(
            return_request=return_request,
            action=action,
            actor_id=actor_id,
            actor_type=actor_type,
            previous_state=previous_state,
            new_state=return_request.status,
            metadata=metadata,
        )

    def _breakdown(self, return_request: ReturnRequest) -> RefundBreakdown:
        """The current refund under policy, honouring staff's approval-time fee and amount."""
        breakdown = self.calculator.calculate(
            return_request=return_request,
            restocking_fee_percent=self.policy.restocking_fee_percent,
            restocking_fee_amount=return_request.restocking_fee_amount,
            condition_adjustments=self.policy.condition_adjustment_percent,
        )
        override = return_request.refund_override_amount
        if override is not None and override < breakdown.total_refund:
            breakdown = self.calculator.with_total(breakdown, total=override)
        return breakdown

    def _maximum_refund(self, return_request: ReturnRequest) -> Decimal:
        """Everything the items cost the customer: the ceiling for any staff override."""
        full = self.calculator.calculate(return_request=return_request)
        return full.item_total + full.tax_refund + full.shipping_refund

    def _bonus(self, return_request: ReturnRequest, total: Decimal) -> Decimal:
        if return_request.refund_method != RefundMethod.STORE_CREDIT:
            return ZERO
        return quantize(
            total * self.policy.store_credit_bonus_percent / HUNDRED,
            return_request.currency,
            ROUND_HALF_EVEN,
        )

    # --- initiate -------------------------------------------------------------------------

    @transaction.atomic
    def initiate(
        self,
        *,
        order_id: str,
        items: Sequence[Mapping[str, Any]],
        reason: str,
        description: str = "",
        images: Sequence[str] = (),
        acting_user: User | None = None,
    ) -> ReturnRequestData:
        """Open a return for some of an order's items (the customer's request)."""
        if reason not in ReturnReason.values:
            raise ValidationError({"reason": f"Must be one of {', '.join(ReturnReason.values)}."})
        if not items:
            raise ValidationError({"items": "Name at least one item to return."})
        # The order's row lock serialises returns of one order: quantities cannot oversell.
        order = Order.objects.select_for_update().filter(external_id=str(order_id)).first()
        if order is None:
            raise OrderNotFoundError(order_id=str(order_id))
        self._check_owner(order, acting_user, OrderNotFoundError(order_id=str(order_id)))

        lines = {line.external_id: line for line in order.lines.all()}
        chosen: list[tuple[Any, int, str]] = []
        seen: set[str] = set()
        for index, item in enumerate(items):
            line_item_id = str(item.get("line_item_id", ""))
            line = lines.get(line_item_id)
            if line is None:
                raise ValidationError(
                    {"items": f"Item {index}: {line_item_id!r} is not on the order."}
                )
            if line_item_id in seen:
                raise ValidationError({"items": f"Item {index}: {line_item_id!r} is listed twice."})
            seen.add(line_item_id)
            condition = item.get("condition") or ReturnItem.ExpectedCondition.NEW
            if condition not in ReturnItem.ExpectedCondition.values:
                raise ValidationError({"items": f"Item {index}: unknown condition {condition!r}."})
            quantity = _positive_int(item.get("quantity"))
            if quantity is None:
                raise InvalidQuantityError(
                    "Quantity must be a whole number of at least 1.", line_item_id=line_item_id
                )
            verdict = self.engine.check_item(line_item=line, order=order)
            if not verdict.returnable:
                if verdict.reason == "return_window_expired":
                    raise ReturnWindowExpiredError(
                        line_item_id=line_item_id, expired_at=verdict.window_expires_at
                    )
                if verdict.reason == "already_returned":
                    raise InvalidQuantityError(
                        "Every unit of this item is already returned.",
                        line_item_id=line_item_id,
                        returnable_quantity=0,
                    )
                raise ItemNotReturnableError(line_item_id=line_item_id, reason=verdict.reason)
            if quantity > verdict.returnable_quantity:
                raise InvalidQuantityError(
                    line_item_id=line_item_id,
                    requested=quantity,
                    returnable_quantity=verdict.returnable_quantity,
                )
            chosen.append((line, quantity, condition))

        return_request = ReturnRequest(
            rma_number=_new_rma_number(),
            order=order,
            customer=order.customer,
            reason=reason,
            description=description or "",
            images=[str(url) for url in images],
            currency=order.currency,
        )
        return_request.full_clean(exclude=["status", "shipping_label"])
        return_request.save()
        return_items = ReturnItem.objects.bulk_create(
            [
                ReturnItem(
                    return_request=return_request,
                    line=line,
                    product_id=line.product_id,
                    quantity_requested=quantity,
                    expected_condition=condition,
                    unit_refund_amount=quantize(
                        line.unit_price_amount + line.tax_amount / line.quantity, order.currency
                    ),
                )
                for line, quantity, condition in chosen
            ]
        )
        for item, (line, _q, _c) in zip(return_items, chosen, strict=True):
            item.line = line
        breakdown = self.calculator.calculate(
            return_request=return_request,
            restocking_fee_percent=self.policy.restocking_fee_percent,
            items=return_items,
        )
        value = breakdown.item_total + breakdown.tax_refund
        threshold = self.policy.returnless_threshold_amount
        if threshold > 0 and value < threshold:
            # Cheaper to let the customer keep it than to pay for the parcel back.
            return_request.returnless = True
            breakdown = self.calculator.calculate(return_request=return_request, items=return_items)
        return_request.estimated_refund_amount = breakdown.total_refund
        return_request.refund_breakdown = breakdown.as_dict()
        return_request.save(
            update_fields=[
                "returnless",
                "estimated_refund_amount",
                "refund_breakdown",
                "updated_at",
            ]
        )

        self._audit(
            return_request,
            "initiated",
            acting_user,
            metadata={
                "order_id": order.external_id,
                "reason": reason,
                "items": [
                    {"line_item_id": line.external_id, "quantity": q, "condition": c}
                    for line, q, c in chosen
                ],
                "returnless": return_request.returnless,
                "estimated_refund": breakdown.total_refund,
            },
        )
        publish_event(
            "return.initiated",
            _event_payload(
                return_request,
                items=[
                    {"line_item_id": line.external_id, "product_id": line.product_id, "quantity": q}
                    for line, q, _c in chosen
                ],
                returnless=return_request.returnless,
                estimated_refund=str(breakdown.total_refund),
                currency=return_request.currency,
            ),
        )
        _email_on_commit(return_request, "initiated")
        return to_data(return_request)

    # --- approve / reject -----------------------------------------------------------------

    def approve(
        self,
        *,
        return_id: int | str,
        refund_method: str,
        approver: User | None,
        refund_amount: Decimal | str | None = None,
        restocking_fee: Decimal | str | None = None,
        notes: str = "",
    ) -> ApprovalResult:
        """Approve a pending return: fixes refund method and estimate, then issues the label."""
        with transaction.atomic():
            return_request = self._approve(
                return_id=return_id,
                refund_method=refund_method,
                approver=approver,
                refund_amount=refund_amount,
                restocking_fee=restocking_fee,
                notes=notes,
            )
        label = None
        if not return_request.returnless:
            try:
                label = self.generate_shipping_label(
                    return_id=return_request.pk, acting_user=approver
                )
            except Exception:
                # The approval stands; staff or the customer can ask for the label again.
                logger.exception("return label failed", extra={"return_id": return_request.pk})
        _email_on_commit(return_request, "approved")
        if return_request.returnless:
            instructions = "No need to send the item back: keep, donate or recycle it."
        else:
            instructions = (
                f"Pack the items, write {return_request.rma_number} on the parcel and attach the "
                "return label."
            )
        return ApprovalResult(
            return_id=return_request.pk,
            rma_number=return_request.rma_number,
            approved_at=return_request.approved_at,
            shipping_label=label,
            instructions=instructions,
            estimated_refund=return_request.estimated_refund_amount,
            store_credit_bonus=return_request.store_credit_bonus_amount,
        )

    def _approve(self, *, return_id, refund_method, approver, refund_amount, restocking_fee, notes):
        return_request = self._locked(return_id)
        if return_request.status != Status.PENDING:
            raise self._refuse(return_request, "approved")
        if refund_method not in RefundMethod.values:
            raise ValidationError(
                {"refund_method": f"Must be one of {', '.join(RefundMethod.values)}."}
            )
        previous = return_request.status
        return_request.refund_method = refund_method
        if restocking_fee is not None:
            return_request.restocking_fee_amount = quantize(
                _money(restocking_fee, "restocking_fee"), return_request.currency
            )
        if refund_amount is not None:
            amount = _money(refund_amount, "refund_amount")
            maximum = self._maximum_refund(return_request)
            if amount != quantize(amount, return_request.currency) or amount > maximum:
                raise InvalidRefundAmountError(requested=amount, maximum=maximum)
            return_request.refund_override_amount = amount
        breakdown = self._breakdown(return_request)
        return_request.estimated_refund_amount = breakdown.total_refund
        return_request.refund_breakdown = breakdown.as_dict()
        return_request.store_credit_bonus_amount = self._bonus(
            return_request, breakdown.total_refund
        )
        return_request.approved_by = approver
        return_request.approved_at = timezone.now()
        return_request.approval_notes = notes or ""
        return_request.approve()
        return_request.save()
        self._audit(
            return_request,
            "approved",
            approver,
            previous,
            metadata={
                "refund_method": refund_method,
                "estimated_refund": breakdown.total_refund,
                "restocking_fee": breakdown.restocking_fee,
                "refund_override": return_request.refund_override_amount,
                "store_credit_bonus": return_request.store_credit_bonus_amount,
                "notes": notes or "",
            },
        )
        publish_event(
            "return.approved",
            _event_payload(
                return_request,
                refund_method=refund_method,
                estimated_refund=str(breakdown.total_refund),
                currency=return_request.currency,
                returnless=return_request.returnless,
            ),
        )
        return return_request

    @transaction.atomic
    def reject(self, *, return_id: int | str, reason: str, rejector: User | None) -> bool:
        """Refuse a pending return, with the reason the customer will read."""
        if not (reason or "").strip():
            raise ValidationError({"reason": "Say why the return is rejected."})
        return_request = self._locked(return_id)
        if return_request.status != Status.PENDING:
            raise self._refuse(return_request, "rejected")
        previous = return_request.status
        return_request.reject()
        return_request.rejection_reason = reason.strip()
        return_request.rejected_at = timezone.now()
        return_request.save()
        self._audit(return_request, "rejected", rejector, previous, {"reason": reason.strip()})
        publish_event(
            "return.rejected", _event_payload(return_request, rejection_reason=reason.strip())
        )
        _email_on_commit(return_request, "rejected")
        return True

    @transaction.atomic
    def cancel(
        self, *, return_id: int | str, reason: str = "", acting_user: User | None = None
    ) -> bool:
        """Withdraw a return before its parcel ships (the customer, or staff for them)."""
        return_request = self._locked(return_id)
        self._check_owner(
            return_request.order, acting_user, ReturnNotFoundError(return_id=str(return_id))
        )
        if return_request.status not in (Status.PENDING, Status.APPROVED):
            raise self._refuse(return_request, "cancelled")
        previous = return_request.status
        return_request.cancel()
        return_request.cancellation_reason = reason or ""
        return_request.cancelled_at = timezone.now()
        return_request.save()
        self._audit(return_request, "cancelled", acting_user, previous, {"reason": reason or ""})
        publish_event(
            "return.cancelled", _event_payload(return_request, cancellation_reason=reason or "")
        )
        _email_on_commit(return_request, "cancelled")
        return True

    # --- shipping -------------------------------------------------------------------------

    def generate_shipping_label(
        self, *, return_id: int | str, acting_user: User | None = None
    ) -> ShippingLabel:
        """The return's label (made once, then the same one), from the configured carrier."""
        with transaction.atomic():
            return_request = self._locked(return_id)
            self._check_owner(
                return_request.order, acting_user, ReturnNotFoundError(return_id=str(return_id))
            )
            if return_request.returnless or return_request.status not in (
                Status.APPROVED,
                Status.SHIPPED,
            ):
                raise self._refuse(return_request, "given a shipping label")
            if return_request.tracking_number:
                return self._label_of(return_request)
            label_request = LabelRequest(
                rma_number=return_request.rma_number,
                order_id=return_request.order.external_id,
                customer_id=return_request.customer.external_id,
                ship_to=settings.RETURNS_WAREHOUSE_ADDRESS,
            )
        # The carrier call happens outside the row lock: it may be a slow remote service.
        label = self.carrier.create_label(label_request)
        with transaction.atomic():
            return_request = self._locked(return_request.pk)
            if return_request.tracking_number:  # someone else stored one meanwhile
                return self._label_of(return_request)
            return_request.carrier = label.carrier
            return_request.tracking_number = label.tracking_number
            return_request.shipping_label.save(
                f"{return_request.rma_number}.pdf", ContentFile(label.pdf), save=False
            )
            return_request.shipping_label_url = return_request.shipping_label.url
            return_request.save()
            self._audit(
                return_request,
                "label_generated",
                acting_user,
                return_request.status,
                {"carrier": label.carrier, "tracking_number": label.tracking_number},
            )
            return self._label_of(return_request)

    @staticmethod
    def _label_of(return_request: ReturnRequest) -> ShippingLabel:
        return ShippingLabel(
            carrier=return_request.carrier,
            tracking_number=return_request.tracking_number,
            label_url=return_request.shipping_label_url,
        )

    @transaction.atomic
    def mark_shipped(
        self, *, return_id: int | str, acting_user: User | None = None
    ) -> ReturnRequest:
        """The carrier picked the parcel up."""
        return_request = self._locked(return_id)
        if return_request.status != Status.APPROVED or return_request.returnless:
            raise self._refuse(return_request, "marked shipped")
        previous = return_request.status
        return_request.ship()
        return_request.shipped_at = timezone.now()
        return_request.save()
        self._audit(
            return_request,
            "shipped",
            acting_user,
            previous,
            {"tracking_number": return_request.tracking_number},
        )
        return return_request

    # --- receipt --------------------------------------------------------------------------

    @transaction.atomic
    def receive_items(
        self,
        *,
        return_id: int | str,
        items_received: Sequence[Mapping[str, Any]],
        receiver: User | None,
    ) -> ReceiptResult:
        """Record what arrived and its condition; may be called again for a later parcel."""
        return_request = self._locked(return_id)
        receivable = (Status.APPROVED, Status.SHIPPED, Status.RECEIVED, Status.INSPECTING)
        if return_request.returnless or return_request.status not in receivable:
            raise self._refuse(return_request, "received")
        if return_request.refund_state in (RefundState.PENDING, RefundState.SUCCEEDED):
            raise self._refuse(return_request, "received while its refund is under way")
        if not items_received:
            raise ValidationError({"items_received": "Name at least one item received."})
        items = {i.line.external_id: i for i in return_request.items.select_related("line")}
        receipts: list[dict[str, Any]] = []
        for index, entry in enumerate(items_received):
            line_item_id = str(entry.get("line_item_id", ""))
            item = items.get(line_item_id)
            if item is None:
                raise ValidationError(
                    {"items_received": f"Item {index}: {line_item_id!r} is not on this return."}
                )
            quantity = _positive_int(entry.get("quantity_received"), allow_zero=True)
            if quantity is None:
                raise InvalidQuantityError(
                    "quantity_received must be a whole number.", line_item_id=line_item_id
                )
            condition = entry.get("actual_condition") or ""
            if condition not in ReturnItem.ActualCondition.values:
                raise ValidationError(
                    {"items_received": f"Item {index}: unknown condition {condition!r}."}
                )
            total = (item.quantity_received or 0) + quantity
            if total > item.quantity_requested:
                raise InvalidQuantityError(
                    "More received than the return asked for.",
                    line_item_id=line_item_id,
                    requested=item.quantity_requested,
                    received=total,
                )
            item.quantity_received = total
            # A later parcel's verdict replaces the earlier one for the whole item.
            item.actual_condition = condition
            item.restockable = condition == ReturnItem.ActualCondition.SELLABLE
            item.notes = str(entry.get("notes") or item.notes)
            item.save(
                update_fields=[
                    "quantity_received",
                    "actual_condition",
                    "restockable",
                    "notes",
                    "updated_at",
                ]
            )
            receipts.append(
                {
                    "line_item_id": line_item_id,
                    "quantity_received": quantity,
                    "actual_condition": condition,
                }
            )
        for item in items.values():
            if item.quantity_received is None:
                item.quantity_received = 0
                item.save(update_fields=["quantity_received", "updated_at"])

        previous = return_request.status
        first_receipt = previous in (Status.APPROVED, Status.SHIPPED)
        if previous == Status.APPROVED:
            return_request.ship()  # arrived without a carrier scan
            return_request.shipped_at = timezone.now()
        if first_receipt:
            return_request.receive()
            return_request.received_at = timezone.now()
        breakdown = self._breakdown(return_request)
        return_request.estimated_refund_amount = breakdown.total_refund
        return_request.refund_breakdown = breakdown.as_dict()
        return_request.store_credit_bonus_amount = self._bonus(
            return_request, breakdown.total_refund
        )
        return_request.save()

        all_items = list(items.values())
        fully_received = all(i.quantity_received == i.quantity_requested for i in all_items)
        self._audit(
            return_request,
            "received" if first_receipt else "received_more",
            receiver,
            previous,
            {
                "items": receipts,
                "fully_received": fully_received,
                "adjusted_refund": breakdown.total_refund,
                "condition_adjustments": breakdown.condition_adjustments,
            },
        )
        publish_event(
            "return.received",
            _event_payload(
                return_request,
                items=receipts,
                fully_received=fully_received,
                adjusted_refund=str(breakdown.total_refund),
                currency=return_request.currency,
            ),
        )
        if first_receipt:
            _email_on_commit(return_request, "received")
        return ReceiptResult(
            status=return_request.status,
            items_status=tuple(
                ItemReceipt(
                    line_item_id=i.line.external_id,
                    quantity_requested=i.quantity_requested,
                    quantity_received=i.quantity_received or 0,
                    actual_condition=i.actual_condition,
                    restockable=i.restockable,
                )
                for i in all_items
            ),
            condition_adjustments=breakdown.condition_adjustments,
            adjusted_refund=breakdown.total_refund,
            fully_received=fully_received,
        )

    @transaction.atomic
    def inspect(self, *, return_id: int | str, inspector: User | None) -> ReturnRequest:
        """Received items go to inspection before the refund."""
        return_request = self._locked(return_id)
        if return_request.status != Status.RECEIVED:
            raise self._refuse(return_request, "inspected")
        return_request.inspect()
        return_request.save()
        self._audit(return_request, "inspection_started", inspector, Status.RECEIVED)
        return return_request

    # --- completion and refund ------------------------------------------------------------

    def complete(
        self,
        *,
        return_id: int | str,
        final_refund_amount: Decimal | str | None = None,
        acting_user: User | None = None,
    ) -> CompletionResult:
        """Refund and close the return. Raises RefundFailedError (retryable) if the money did
        not move; the return then stays where it was with refund_state=failed."""
        with transaction.atomic():
            return_request = self._locked(return_id)
            self._check_completable(return_request)
            amount, breakdown = self._final_amount(return_request, final_refund_amount)
            failure: Exception | None = None
            if return_request.refund_method != RefundMethod.ORIGINAL_PAYMENT:
                try:
                    with transaction.atomic():
                        return self._complete_locally(
                            return_request, amount, breakdown, acting_user
                        )
                except Exception as exc:  # any failure leaves the return retryable
                    failure = exc
            else:
                self._start_refund(return_request, amount, breakdown, acting_user)
                refund_args = {
                    "return_id": return_request.pk,
                    "generation": return_request.refund_generation,
                    "rma_number": return_request.rma_number,
                    "payment_reference": return_request.order.payment_reference,
                    "amount": amount,
                    "currency": return_request.currency,
                    "lines": breakdown.as_dict()["lines"],
                }
        if failure is not None:
            self._record_refund_failure(return_request.pk, failure, acting_user, rejected=False)
            raise RefundFailedError(
                str(failure) or type(failure).__name__, rma_number=return_request.rma_number
            ) from failure

        # original payment: the HTTP call runs with no transaction or lock held.
        try:
            payment = refunds.refund_to_original_payment(client=self.payments_client, **refund_args)
        except PaymentsRejectedError as exc:
            self._record_refund_failure(return_request.pk, exc, acting_user, rejected=True)
            raise RefundRejectedError(str(exc), rma_number=return_request.rma_number) from exc
        except PaymentsUnavailableError as exc:
            self._record_refund_failure(return_request.pk, exc, acting_user, rejected=False)
            raise RefundFailedError(str(exc), rma_number=return_request.rma_number) from exc

        with transaction.atomic():
            return_request = self._locked(return_request.pk)
            if return_request.status == Status.COMPLETED:
                # A concurrent attempt (same idempotency key, same refund) finished first.
                return self._completion_result(return_request)
            return self._finish(
                return_request,
                amount=amount,
                breakdown=breakdown,
                transaction_id=payment.refund_id,
                acting_user=acting_user,
                metadata={"payments_status": payment.status},
            )

    def _check_completable(self, return_request: ReturnRequest) -> None:
        status = return_request.status
        if status == Status.APPROVED and return_request.returnless:
            pass
        elif status in (Status.APPROVED, Status.SHIPPED):
            raise ItemsNotReceivedError(status=status)
        elif status not in (Status.RECEIVED, Status.INSPECTING):
            raise self._refuse(return_request, "completed")
        elif not any((i.quantity_received or 0) > 0 for i in return_request.items.all()):
            raise ItemsNotReceivedError("Nothing was received for this return.", status=status)
        if return_request.refund_state == RefundState.PENDING:
            stale = timezone.now() - timedelta(minutes=settings.RETURNS_REFUND_STALE_MINUTES)
            if return_request.refund_started_at and return_request.refund_started_at > stale:
                raise RefundInProgressError(rma_number=return_request.rma_number)

    def _final_amount(
        self, return_request: ReturnRequest, final_refund_amount: Any
    ) -> tuple[Decimal, RefundBreakdown]:
        in_flight = return_request.refund_state in (RefundState.PENDING, RefundState.FAILED)
        if in_flight and return_request.actual_refund_amount is not None:
            # A retry must ask for exactly what the first attempt asked for (same key).
            if (
                final_refund_amount is not None
                and _money(final_refund_amount, "final_refund_amount")
                != return_request.actual_refund_amount
            ):
                raise InvalidRefundAmountError(
                    "A refund of a different amount is already under way for this return.",
                    in_progress=return_request.actual_refund_amount,
                )
            breakdown = self._breakdown(return_request)
            if breakdown.total_refund != return_request.actual_refund_amount:
                breakdown = self.calculator.with_total(
                    breakdown, total=return_request.actual_refund_amount
                )
            return return_request.actual_refund_amount, breakdown
        breakdown = self._breakdown(return_request)
        if final_refund_amount is not None:
            amount = _money(final_refund_amount, "final_refund_amount")
            maximum = self._maximum_refund(return_request)
            if amount != quantize(amount, return_request.currency) or amount > maximum:
                raise InvalidRefundAmountError(requested=amount, maximum=maximum)
            breakdown = self.calculator.with_total(breakdown, total=amount)
        return breakdown.total_refund, breakdown

    def _start_refund(self, return_request, amount, breakdown, acting_user) -> None:
        """Commit the intent before any money moves: a crash leaves a findable pending refund."""
        return_request.refund_state = RefundState.PENDING
        return_request.refund_started_at = timezone.now()
        return_request.actual_refund_amount = amount
        return_request.refund_breakdown = breakdown.as_dict()
        return_request.save()
        self._audit(
            return_request,
            "refund_started",
            acting_user,
            return_request.status,
            {
                "refund_method": return_request.refund_method,
                "amount": amount,
                "attempt": return_request.refund_attempts + 1,
                "idempotency_key": refunds.refund_idempotency_key(
                    return_request.pk, return_request.refund_generation
                ),
            },
        )

    @transaction.atomic
    def _record_refund_failure(
        self, return_id: int, error: Exception, acting_user: User | None, *, rejected: bool
    ) -> None:
        return_request = self._locked(return_id)
        if return_request.status == Status.COMPLETED:
            return
        return_request.refund_attempts += 1
        return_request.refund_last_error = f"{type(error).__name__}: {error}"[:2000]
        if rejected:
            return_request.refund_state = RefundState.REJECTED
            return_request.refund_generation += 1
        else:
            return_request.refund_state = RefundState.FAILED
        return_request.save()
        self._audit(
            return_request,
            "refund_rejected" if rejected else "refund_failed",
            acting_user,
            return_request.status,
            {
                "error": return_request.refund_last_error,
                "attempts": return_request.refund_attempts,
                "refund_method": return_request.refund_method,
            },
        )
        logger.warning(
            "return refund failed",
            extra={
                "return_id": return_id,
                "rejected": rejected,
                "error": return_request.refund_last_error,
            },
        )

    def _complete_locally(self, return_request, amount, breakdown, acting_user) -> CompletionResult:
        """Store credit, gift card and exchange settle inside our own transaction."""
        method = return_request.refund_method
        lines = breakdown.as_dict()["lines"]
        metadata: dict[str, Any] = {}
        bonus = ZERO
        if method in (RefundMethod.STORE_CREDIT, RefundMethod.GIFT_CARD):
            bonus = self._bonus(return_request, amount)
            credit = refunds.issue_store_credit(
                amount=amount + bonus,
                currency=return_request.currency,
                customer_id=return_request.customer.external_id,
                recipient_email=return_request.order.customer_email,
                message=f"Refund for return {return_request.rma_number}",
                acting_user_id=str(acting_user.pk) if acting_user else "",
            )
            transaction_id = f"gift_card:{credit.gift_card_id}"
            metadata = {
                "gift_card_id": credit.gift_card_id,
                "code_last4": credit.code_last4,
                "bonus": bonus,
            }
        else:
            transaction_id = refunds.request_exchange(
                return_id=return_request.pk,
                rma_number=return_request.rma_number,
                order_id=return_request.order.external_id,
                customer_id=return_request.customer.external_id,
                lines=lines,
                value=amount,
                currency=return_request.currency,
            )
        return_request.store_credit_bonus_amount = bonus
        return self._finish(
            return_request,
            amount=amount,
            breakdown=breakdown,
            transaction_id=transaction_id,
            acting_user=acting_user,
            metadata=metadata,
        )

    def _finish(
        self, return_request, *, amount, breakdown, transaction_id, acting_user, metadata
    ) -> CompletionResult:
        previous = return_request.status
        if previous == Status.APPROVED:
            return_request.complete_returnless()
        else:
            return_request.complete()
        now = timezone.now()
        return_request.completed_at = now
        return_request.actual_refund_amount = amount
        return_request.refund_breakdown = breakdown.as_dict()
        return_request.refund_state = RefundState.SUCCEEDED
        return_request.refund_transaction_id = transaction_id
        return_request.refund_last_error = ""
        return_request.save()

        items = list(return_request.items.select_related("line"))
        by_line = {line.line_item_id: line for line in breakdown.lines}
        for item in items:
            line = by_line.get(item.line.external_id)
            if line and line.quantity:
                item.unit_refund_amount = quantize(
                    line.total_amount / line.quantity, return_request.currency
                )
                item.save(update_fields=["unit_refund_amount", "updated_at"])
        restocked = tuple(
            InventoryUpdate(
                product_id=i.product_id, sku=i.line.sku, quantity=i.quantity_received or 0
            )
            for i in items
            if i.restockable and (i.quantity_received or 0) > 0
        )
        self._audit(
            return_request,
            "completed",
            acting_user,
            previous,
            {
                "refund_method": return_request.refund_method,
                "refund_amount": amount,
                "refund_transaction_id": transaction_id,
                "restocked": [u.__dict__ for u in restocked],
                **metadata,
            },
        )
        if restocked:
            publish_event(
                "inventory.restocked",
                {
                    "return_id": return_request.pk,
                    "rma_number": return_request.rma_number,
                    "items": [u.__dict__ for u in restocked],
                },
            )
        publish_event(
            "return.completed",
            _event_payload(
                return_request,
                refund_method=return_request.refund_method,
                refund_amount=str(amount),
                bonus_amount=str(return_request.store_credit_bonus_amount),
                currency=return_request.currency,
                refund_transaction_id=transaction_id,
            ),
        )
        _email_on_commit(return_request, "completed")
        return CompletionResult(
            refund_transaction_id=transaction_id,
            refund_amount=amount,
            refund_method=return_request.refund_method,
            inventory_updates=restocked,
            bonus_amount=return_request.store_credit_bonus_amount,
        )

    @staticmethod
    def _completion_result(return_request: ReturnRequest) -> CompletionResult:
        return CompletionResult(
            refund_transaction_id=return_request.refund_transaction_id,
            refund_amount=return_request.actual_refund_amount or ZERO,
            refund_method=return_request.refund_method,
            inventory_updates=tuple(
                InventoryUpdate(
                    product_id=i.product_id, sku=i.line.sku, quantity=i.quantity_received or 0
                )
                for i in return_request.items.select_related("line")
                if i.restockable and (i.quantity_received or 0) > 0
            ),
            bonus_amount=return_request.store_credit_bonus_amount,
        )

    @transaction.atomic
    def change_refund_method(
        self, *, return_id: int | str, refund_method: str, acting_user: User | None
    ) -> ReturnRequest:
        """After the payments service refused a refund, staff pick another way to pay it."""
        return_request = self._locked(return_id)
        if refund_method not in RefundMethod.values:
            raise ValidationError(
                {"refund_method": f"Must be one of {', '.join(RefundMethod.values)}."}
            )
        if return_request.status in (
            Status.COMPLETED,
            Status.REJECTED,
            Status.CANCELLED,
            Status.PENDING,
        ):
            raise self._refuse(return_request, "given another refund method")
        if return_request.refund_state == RefundState.PENDING:
            raise RefundInProgressError(rma_number=return_request.rma_number)
        previous_method = return_request.refund_method
        return_request.refund_method = refund_method
        return_request.refund_state = RefundState.NOT_STARTED
        return_request.actual_refund_amount = None
        return_request.store_credit_bonus_amount = self._bonus(
            return_request, return_request.estimated_refund_amount
        )
        return_request.save()
        self._audit(
            return_request,
            "refund_method_changed",
            acting_user,
            return_request.status,
            {"from": previous_method, "to": refund_method},
        )
        return return_request

    def retry_refunds(self) -> RetryOutcome:
        """Beat: retry failed refunds and recover refunds abandoned mid-flight."""
        candidates = list(
            refunds_to_retry(
                stale_after=timedelta(minutes=settings.RETURNS_REFUND_STALE_MINUTES),
                max_attempts=settings.RETURNS_REFUND_MAX_ATTEMPTS,
            ).values_list("pk", flat=True)
        )
        completed = failed = 0
        for return_id in candidates:
            try:
                self.complete(return_id=return_id)
            except (
                RefundFailedError,
                RefundRejectedError,
                RefundInProgressError,
                InvalidStateError,
                ItemsNotReceivedError,
            ):
                failed += 1
            else:
                completed += 1
        return RetryOutcome(attempted=len(candidates), completed=completed, failed=failed)

    # --- eligibility ----------------------------------------------------------------------

    def check_eligibility(
        self, *, order_id: str, acting_user: User | None = None
    ) -> EligibilityResult:
        """Which of the order's items can come back now, how many, and until when."""
        order = Order.objects.filter(external_id=str(order_id)).first()
        if order is None:
            raise OrderNotFoundError(order_id=str(order_id))
        self._check_owner(order, acting_user, OrderNotFoundError(order_id=str(order_id)))
        eligible, ineligible = [], []
        for line in order.lines.all():
            verdict = self.engine.check_item(line_item=line, order=order)
            if verdict.returnable:
                eligible.append(
                    EligibleItem(
                        line_item_id=line.external_id,
                        product_id=line.product_id,
                        returnable_quantity=verdict.returnable_quantity,
                        window_expires_at=verdict.window_expires_at,
                    )
                )
            else:
                ineligible.append(
                    IneligibleItem(
                        line_item_id=line.external_id,
                        product_id=line.product_id,
                        reason=verdict.reason,
                    )
                )
        return EligibilityResult(
            order_id=order.external_id,
            eligible_items=tuple(eligible),
            ineligible_items=tuple(ineligible),
            return_window_expires_at=self.engine.window_expires_at(order=order),
        )
