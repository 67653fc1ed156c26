"""
Gift cards and their append-only ledger.

A card's `current_balance` is a cache of its ledger: every change writes one
GiftCardTransaction with the balance before and after, in the same transaction as the
card's update, and `manage.py reconcile_gift_cards` proves the two agree. The database
itself refuses a balance outside [0, original amount], a ledger row whose before/after do
not add up, and (on PostgreSQL, by trigger) any UPDATE or DELETE of a ledger row.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from gift_cards import codes
from gift_cards.money import as_currency

# Three decimals hold every supported currency's minor units (KWD, BHD…); amounts are
# quantised to the card's own currency before they reach the database.
AMOUNT = {"max_digits": 14, "decimal_places": 3}


class GiftCardQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=GiftCard.Status.ACTIVE)

    def with_balance(self):
        return self.filter(current_balance__gt=0)

    def expired(self):
        return self.filter(expires_at__lt=timezone.now())

    def spendable(self):
        return self.filter(
            status__in=GiftCard.SPENDABLE, current_balance__gt=0, expires_at__gt=timezone.now()
        )


class GiftCard(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PARTIALLY_REDEEMED = "partially_redeemed", "Partially redeemed"
        FULLY_REDEEMED = "fully_redeemed", "Fully redeemed"
        EXPIRED = "expired", "Expired"
        VOIDED = "voided", "Voided"

    SPENDABLE = (Status.ACTIVE, Status.PARTIALLY_REDEEMED)
    OPEN = (Status.ACTIVE, Status.PARTIALLY_REDEEMED, Status.FULLY_REDEEMED)

    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    code_prefix = models.CharField(max_length=10, default=codes.DEFAULT_PREFIX)
    code_length = models.PositiveSmallIntegerField(default=codes.DEFAULT_LENGTH)
    last_four = models.CharField(max_length=4, db_index=True)
    original_amount = models.DecimalField(**AMOUNT)
    current_balance = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    purchaser_id = models.CharField(max_length=100, db_index=True)
    recipient_email = models.EmailField(blank=True)
    message = models.TextField(blank=True, max_length=1000)
    expires_at = models.DateTimeField()
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.CharField(max_length=100, blank=True)
    void_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = GiftCardQuerySet.as_manager()

    # The plain code exists only on the instance returned by create/bulk_create.
    code: str | None = None

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(original_amount__gt=0), name="gift_card_original_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(current_balance__gte=0) & Q(current_balance__lte=F("original_amount")),
                name="gift_card_balance_within_original",
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "active",
                        "partially_redeemed",
                        "fully_redeemed",
                        "expired",
                        "voided",
                    ]
                ),
                name="gift_card_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="voided") | Q(voided_at__isnull=False),
                name="gift_card_voided_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="gift_card_status_expiry_idx"),
            models.Index(fields=["recipient_email"], name="gift_card_recipient_idx"),
        ]
        permissions = [
            ("redeem_giftcard", "Can redeem gift cards"),
            ("refund_giftcard", "Can refund to gift cards"),
            ("void_giftcard", "Can void gift cards"),
            ("bulk_create_giftcard", "Can create gift cards in bulk"),
            ("check_balance_giftcard", "Can check gift card balances by code"),
            ("transfer_giftcard", "Can transfer balance between gift cards"),
        ]

    def __str__(self) -> str:
        return f"{self.masked_code} ({self.currency} {self.balance})"

    @property
    def masked_code(self) -> str:
        return codes.masked(self.code_prefix, self.last_four, self.code_length)

    @property
    def balance(self) -> Decimal:
        return as_currency(self.current_balance, self.currency)

    @property
    def original(self) -> Decimal:
        return as_currency(self.original_amount, self.currency)

    @property
    def redemptions(self):
        return self.transactions.filter(transaction_type=GiftCardTransaction.Type.REDEMPTION)

    def is_past_expiry(self, now=None) -> bool:
        return self.expires_at <= (now or timezone.now())

    def effective_status(self, now=None) -> str:
        """The status a reader should see: a card past its date is expired even before the
        hourly expiry job has stamped it."""
        if self.status in self.OPEN and self.is_past_expiry(now):
            return self.Status.EXPIRED
        return self.status


class LedgerQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("The gift card ledger is append-only: rows are never updated.")

    def delete(self):
        raise TypeError("The gift card ledger is append-only: rows are never deleted.")


class GiftCardTransaction(models.Model):
    """One balance change. `amount` is signed: credits positive, debits negative."""

    class Type(models.TextChoices):
        CREATION = "creation", "Creation"
        REDEMPTION = "redemption", "Redemption"
        REFUND = "refund", "Refund"
        TRANSFER_IN = "transfer_in", "Transfer in"
        TRANSFER_OUT = "transfer_out", "Transfer out"
        VOID = "void", "Void"
        EXPIRATION = "expiration", "Expiration"
        EXPIRY_EXTENDED = "expiry_extended", "Expiry extended"

    CREDITS = (Type.CREATION, Type.REFUND, Type.TRANSFER_IN)
    DEBITS = (Type.REDEMPTION, Type.TRANSFER_OUT, Type.VOID, Type.EXPIRATION)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    gift_card = models.ForeignKey(GiftCard, on_delete=models.PROTECT, related_name="transactions")
    transaction_type = models.CharField(max_length=20, choices=Type.choices)
    amount = models.DecimalField(**AMOUNT)
    balance_before = models.DecimalField(**AMOUNT)
    balance_after = models.DecimalField(**AMOUNT)
    order_id = models.CharField(max_length=100, blank=True, db_index=True)
    # Refunds: the redemption's public id; transfers: the transfer id shared by both legs.
    reference_id = models.CharField(max_length=100, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=200, blank=True)
    actor_id = models.CharField(max_length=100, blank=True)
    metadata = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = LedgerQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(balance_after=F("balance_before") + F("amount")),
                name="gift_card_txn_balance_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(balance_before__gte=0) & Q(balance_after__gte=0),
                name="gift_card_txn_balances_non_negative",
            ),
            models.CheckConstraint(
                condition=(
                    Q(transaction_type__in=["creation", "refund", "transfer_in"], amount__gt=0)
                    | Q(transaction_type__in=["redemption", "transfer_out"], amount__lt=0)
                    | Q(transaction_type__in=["void", "expiration"], amount__lte=0)
                    | Q(transaction_type="expiry_extended", amount=0)
                ),
                name="gift_card_txn_sign_matches_type",
            ),
            # A retried redeem/refund/transfer with the same key finds the first row.
            models.UniqueConstraint(
                fields=["gift_card", "transaction_type", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="gift_card_txn_idempotency_once",
            ),
        ]
        indexes = [
            models.Index(fields=["gift_card", "id"], name="gift_card_txn_card_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_transaction_type_display()} {self.amount} on card #{self.gift_card_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("The gift card ledger is append-only: rows are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("The gift card ledger is append-only: rows are never deleted.")
