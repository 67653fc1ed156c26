"""
Returns: storefront customers and the people verified to act for them, the local orders
mirror, return requests with their lifecycle, returned items, and the append-only,
hash-chained audit log.

Models hold fields, constraints and FSM declarations only; every change goes through
`returns.services`.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition

MONEY = {"max_digits": 12, "decimal_places": 2}


# --- customers --------------------------------------------------------------------------


class Customer(models.Model):
    """A storefront customer, as the orders service names them; never a Django user.

    A user reaches a customer's orders and returns only through a `CustomerAccess`, made
    when they open a one-time link emailed to one of the customer's order addresses.
    """

    external_id = models.CharField("customer id", max_length=64, unique=True)
    email = models.EmailField(blank=True, help_text="The address on the customer's latest order.")
    name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["external_id"]

    def __str__(self) -> str:
        return self.external_id


class CustomerAccess(models.Model):
    """A person (Django user) proven to act for a customer, and how it was proven."""

    class Method(models.TextChoices):
        EMAIL_LINK = "email_link", "Link emailed to an order's address"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer_accesses"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="accesses")
    method = models.CharField(max_length=16, choices=Method.choices)
    verified_at = models.DateTimeField()
    link = models.ForeignKey(
        "CustomerAccessLink",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The emailed link that proved it.",
    )

    class Meta:
        ordering = ["-verified_at", "-id"]
        verbose_name_plural = "customer accesses"
        constraints = [
            models.UniqueConstraint(fields=["user", "customer"], name="returns_access_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} for {self.customer}"


class CustomerAccessLink(models.Model):
    """A one-time link asked for with an order number and its email, sent to that address.

    Only a hash of the link's secret is stored; the secret is made when the email is sent.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey("Order", on_delete=models.CASCADE, related_name="+")
    email = models.EmailField(help_text="The order's address the link was sent to.")
    secret_hash = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"link for {self.customer} ({self.email})"


# --- orders mirror ----------------------------------------------------------------------


class Order(models.Model):
    """An order as the orders service last described it (order.completed, shipment.delivered)."""

    external_id = models.CharField("order id", max_length=64, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    customer_email = models.EmailField(blank=True)
    currency = models.CharField(max_length=3, default="USD")
    shipping_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))
    payment_reference = models.CharField(max_length=128, blank=True)
    placed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(shipping_amount__gte=0), name="returns_order_shipping_gte_0"
            )
        ]

    def __str__(self) -> str:
        return self.external_id


class OrderLine(models.Model):
    """One line item of a mirrored order; `tax_amount` is the tax on the whole line."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    external_id = models.CharField("line item id", max_length=64)
    product_id = models.CharField(max_length=64)
    sku = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=255, blank=True)
    category = models.CharField(max_length=64, blank=True, db_index=True)
    quantity = models.PositiveIntegerField()
    unit_price_amount = models.DecimalField(**MONEY)
    tax_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))

    class Meta:
        ordering = ["order_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "external_id"], name="returns_line_once"),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="returns_line_qty_gt_0"
            ),
            models.CheckConstraint(
                condition=models.Q(unit_price_amount__gte=0, tax_amount__gte=0),
                name="returns_line_money_gte_0",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order.external_id}/{self.external_id}"

    @property
    def line_total_amount(self) -> Decimal:
        return self.unit_price_amount * self.quantity


class OrderEventReceipt(models.Model):
    """Each inbound order event, once: the webhook's idempotency record and its log."""

    event_id = models.CharField(max_length=100, unique=True)
    topic = models.CharField(max_length=64)
    order_external_id = models.CharField(max_length=64, blank=True, db_index=True)
    payload = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.topic} {self.event_id}"


# --- returns ----------------------------------------------------------------------------


class ReturnReason(models.TextChoices):
    DEFECTIVE = "defective", "Defective"
    WRONG_ITEM = "wrong_item", "Wrong item"
    NOT_AS_DESCRIBED = "not_as_described", "Not as described"
    NO_LONGER_NEEDED = "no_longer_needed", "No longer needed"
    OTHER = "other", "Other"


# The retailer's fault: shipping comes back and no restocking fee or condition deduction.
RETAILER_FAULT_REASONS = frozenset(
    {ReturnReason.DEFECTIVE, ReturnReason.WRONG_ITEM, ReturnReason.NOT_AS_DESCRIBED}
)


class RefundMethod(models.TextChoices):
    ORIGINAL_PAYMENT = "original_payment", "Original payment"
    STORE_CREDIT = "store_credit", "Store credit"
    GIFT_CARD = "gift_card", "Gift card"
    EXCHANGE = "exchange", "Exchange"


class RefundState(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    PENDING = "pending", "In progress"
    FAILED = "failed", "Failed (will retry)"
    REJECTED = "rejected", "Rejected by the payments service"
    SUCCEEDED = "succeeded", "Succeeded"


class ReturnRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        SHIPPED = "shipped", "Shipped"
        RECEIVED = "received", "Received"
        INSPECTING = "inspecting", "Inspecting"
        COMPLETED = "completed", "Completed"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"

    rma_number = models.CharField("RMA", max_length=16, unique=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="returns")
    status = FSMField(default=Status.PENDING, choices=Status.choices, protected=True, db_index=True)
    reason = models.CharField(max_length=32, choices=ReturnReason.choices)
    description = models.TextField(blank=True)
    images = models.JSONField(default=list, blank=True)
    currency = models.CharField(max_length=3)
    returnless = models.BooleanField(
        default=False, help_text="Refund without shipping back: worth less than return shipping."
    )

    refund_method = models.CharField(max_length=32, choices=RefundMethod.choices, blank=True)
    estimated_refund_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))
    refund_override_amount = models.DecimalField(**MONEY, null=True, blank=True)
    restocking_fee_amount = models.DecimalField(**MONEY, null=True, blank=True)
    store_credit_bonus_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))
    actual_refund_amount = models.DecimalField(**MONEY, null=True, blank=True)
    refund_breakdown = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    refund_state = models.CharField(
        max_length=16, choices=RefundState.choices, default=RefundState.NOT_STARTED
    )
    refund_attempts = models.PositiveIntegerField(default=0)
    # Part of the payments idempotency key; moves on only after a refund was rejected, so
    # retries of one refund always reuse one key.
    refund_generation = models.PositiveIntegerField(default=1)
    refund_started_at = models.DateTimeField(null=True, blank=True)
    refund_last_error = models.TextField(blank=True)
    refund_transaction_id = models.CharField(max_length=128, blank=True)

    carrier = models.CharField(max_length=32, blank=True)
    tracking_number = models.CharField(max_length=64, blank=True, db_index=True)
    shipping_label = models.FileField(upload_to="returns/labels/", blank=True)
    shipping_label_url = models.CharField(max_length=500, blank=True)

    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approval_notes = models.TextField(blank=True)
    rejection_reason = models.TextField(blank=True)
    cancellation_reason = models.TextField(blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Sequence of the last audit row: lets verification notice rows cut off the end.
    audit_sequence = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("process_returnrequest", "Can approve, receive and complete returns")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(estimated_refund_amount__gte=0)
                & models.Q(store_credit_bonus_amount__gte=0),
                name="returns_request_money_gte_0",
            ),
            models.CheckConstraint(
                condition=models.Q(actual_refund_amount__isnull=True)
                | models.Q(actual_refund_amount__gte=0),
                name="returns_request_actual_gte_0",
            ),
        ]
        indexes = [models.Index(fields=["refund_state", "status"], name="returns_refund_state_idx")]

    def __str__(self) -> str:
        return self.rma_number

    @property
    def is_retailer_fault(self) -> bool:
        return self.reason in RETAILER_FAULT_REASONS

    def _is_returnless(self) -> bool:
        return self.returnless

    # Transitions: state only; services lock, check, save, audit and emit.

    @transition(
        field=status, source=Status.PENDING, target=Status.APPROVED, custom={"label": "Approve"}
    )
    def approve(self) -> None:
        pass

    @transition(
        field=status,
        source=Status.APPROVED,
        target=Status.SHIPPED,
        custom={"label": "Mark shipped"},
    )
    def ship(self) -> None:
        pass

    @transition(
        field=status,
        source=[Status.APPROVED, Status.SHIPPED],
        target=Status.RECEIVED,
        custom={"label": "Receive all (sellable)"},
    )
    def receive(self) -> None:
        pass

    @transition(
        field=status,
        source=Status.RECEIVED,
        target=Status.INSPECTING,
        custom={"label": "Start inspection"},
    )
    def inspect(self) -> None:
        pass

    @transition(
        field=status,
        source=[Status.RECEIVED, Status.INSPECTING],
        target=Status.COMPLETED,
        custom={"label": "Complete and refund"},
    )
    def complete(self) -> None:
        pass

    @transition(
        field=status,
        source=Status.APPROVED,
        target=Status.COMPLETED,
        conditions=[_is_returnless],
        custom={"label": "Complete (returnless)"},
    )
    def complete_returnless(self) -> None:
        pass

    @transition(
        field=status, source=Status.PENDING, target=Status.REJECTED, custom={"label": "Reject"}
    )
    def reject(self) -> None:
        pass

    @transition(
        field=status,
        source=[Status.PENDING, Status.APPROVED],
        target=Status.CANCELLED,
        custom={"label": "Cancel"},
    )
    def cancel(self) -> None:
        pass


class ReturnItem(models.Model):
    class ExpectedCondition(models.TextChoices):
        NEW = "new", "New"
        OPENED = "opened", "Opened"
        DAMAGED = "damaged", "Damaged"

    class ActualCondition(models.TextChoices):
        SELLABLE = "sellable", "Sellable"
        DAMAGED = "damaged", "Damaged"
        UNSELLABLE = "unsellable", "Unsellable"

    return_request = models.ForeignKey(
        ReturnRequest, on_delete=models.CASCADE, related_name="items"
    )
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="return_items")
    product_id = models.CharField(max_length=64)
    quantity_requested = models.PositiveIntegerField()
    quantity_received = models.PositiveIntegerField(null=True, blank=True)
    expected_condition = models.CharField(max_length=16, choices=ExpectedCondition.choices)
    actual_condition = models.CharField(max_length=16, choices=ActualCondition.choices, blank=True)
    unit_refund_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))
    restockable = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["return_request_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["return_request", "line"], name="returns_item_once"),
            models.CheckConstraint(
                condition=models.Q(quantity_requested__gt=0), name="returns_item_qty_gt_0"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity_received__isnull=True)
                | models.Q(quantity_received__lte=models.F("quantity_requested")),
                name="returns_item_received_lte_requested",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.return_request} x {self.line.external_id}"


# --- audit ------------------------------------------------------------------------------


class AuditLogImmutableError(Exception):
    """Raised on any attempt to change or remove an audit row through the ORM."""


class ReturnAuditLogQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogImmutableError("Return audit rows cannot be updated.")

    def delete(self):
        raise AuditLogImmutableError("Return audit rows cannot be deleted.")

    def for_return(self, return_id: int) -> ReturnAuditLogQuerySet:
        return self.filter(return_request_id=return_id)

    def recent(self) -> ReturnAuditLogQuerySet:
        return self.order_by("-created_at", "-id")


class ReturnAuditLog(models.Model):
    """
    One action on a return. Rows are only ever inserted (by `returns.audit`); each carries an
    HMAC over its content and the previous row's hash, so a change made behind the ORM's back
    breaks the chain and `manage.py verify_return_audit` reports it.
    """

    class ActorType(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        STAFF = "staff", "Staff"
        SYSTEM = "system", "System"

    return_request = models.ForeignKey(
        ReturnRequest, on_delete=models.PROTECT, related_name="audit_logs"
    )
    sequence = models.PositiveIntegerField()
    action = models.CharField(max_length=40)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    previous_state = models.CharField(max_length=16, blank=True)
    new_state = models.CharField(max_length=16, blank=True)
    metadata = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField()
    previous_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64)

    objects = ReturnAuditLogQuerySet.as_manager()

    class Meta:
        ordering = ["return_request_id", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["return_request", "sequence"], name="returns_audit_sequence_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.return_request_id}#{self.sequence} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogImmutableError("Return audit rows cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogImmutableError("Return audit rows cannot be deleted.")
