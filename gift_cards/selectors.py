"""Reads of the gift card app: liability, the liability report, ledger drift, order lookups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Case, Count, DecimalField, F, Q, Sum, Value, When, Window
from django.db.models.functions import Coalesce, Lag, TruncMonth
from django.utils import timezone

from gift_cards import codes
from gift_cards.errors import InvalidCodeError
from gift_cards.models import GiftCard, GiftCardTransaction
from gift_cards.money import as_currency

ZERO = Value(Decimal(0), output_field=DecimalField(max_digits=14, decimal_places=3))

AGE_BUCKETS = [  # (label, days at least, days below)
    ("0-30 days", 0, 31),
    ("31-90 days", 31, 91),
    ("91-180 days", 91, 181),
    ("181-365 days", 181, 366),
    ("over a year", 366, None),
]


def gift_card_get_by_code(*, code: object) -> GiftCard:
    """The card a code belongs to, found by its keyed hash. Raises InvalidCodeError."""
    parsed = codes.parse(code)
    if parsed is None:  # format or check character: refused before any query
        raise InvalidCodeError()
    digest = codes.code_hash(parsed)
    card = GiftCard.objects.filter(code_hash=digest).first()
    if card is None or not codes.hashes_match(card.code_hash, digest):
        raise InvalidCodeError()
    return card


def gift_card_liability_by_currency() -> list[dict]:
    """Outstanding balances of live cards (not voided or expired), per currency."""
    rows = (
        GiftCard.objects.filter(status__in=GiftCard.OPEN)
        .values("currency")
        .annotate(cards=Count("id"), outstanding=Coalesce(Sum("current_balance"), ZERO))
        .order_by("currency")
    )
    return [
        {**row, "outstanding": as_currency(row["outstanding"], row["currency"])} for row in rows
    ]


@dataclass(frozen=True)
class LiabilityRow:
    currency: str
    age: str
    expiry_month: str
    cards: int
    outstanding: Decimal


def gift_card_liability_report(*, now: datetime | None = None) -> list[LiabilityRow]:
    """Liability by currency, card age (since issue) and expiry month, largest first within
    each currency; computed in one grouped query."""
    now = now or timezone.now()
    age = Case(
        *[
            When(
                Q(created_at__lte=now - timedelta(days=low))
                & (Q(created_at__gt=now - timedelta(days=high)) if high else Q()),
                then=Value(label),
            )
            for label, low, high in AGE_BUCKETS
        ],
        default=Value(AGE_BUCKETS[0][0]),
    )
    rows = (
        GiftCard.objects.filter(status__in=GiftCard.OPEN, current_balance__gt=0)
        .annotate(age=age, expiry_month=TruncMonth("expires_at"))
        .values("currency", "age", "expiry_month")
        .annotate(cards=Count("id"), outstanding=Sum("current_balance"))
        .order_by("currency", "expiry_month", "age")
    )
    return [
        LiabilityRow(
            currency=row["currency"],
            age=row["age"],
            expiry_month=row["expiry_month"].strftime("%Y-%m"),
            cards=row["cards"],
            outstanding=as_currency(row["outstanding"], row["currency"]),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Drift:
    gift_card_id: int
    problem: str


def gift_card_ledger_drift() -> list[Drift]:
    """Every card whose balance differs from its ledger's sum, and every ledger row whose
    balance_before is not the previous row's balance_after (a gap or a rewrite)."""
    drift = [
        Drift(
            gift_card_id=row["pk"],
            problem=f"balance {row['current_balance']} != ledger sum {row['ledger_sum']}",
        )
        for row in GiftCard.objects.annotate(ledger_sum=Coalesce(Sum("transactions__amount"), ZERO))
        .exclude(current_balance=F("ledger_sum"))
        .values("pk", "current_balance", "ledger_sum")
    ]
    gaps = (
        GiftCardTransaction.objects.annotate(
            previous_after=Window(
                Lag("balance_after", default=ZERO),
                partition_by=[F("gift_card_id")],
                order_by=F("id").asc(),
            )
        )
        .exclude(balance_before=F("previous_after"))
        .values("id", "gift_card_id", "balance_before", "previous_after")
    )
    drift.extend(
        Drift(
            gift_card_id=row["gift_card_id"],
            problem=f"ledger row {row['id']} starts at {row['balance_before']}, "
            f"the previous row ended at {row['previous_after']}",
        )
        for row in gaps
    )
    return drift


def gift_card_redemptions_for_order(*, order_id: str, currency: str | None = None):
    """The order's redemptions, newest first (refunds release the latest spend first)."""
    queryset = GiftCardTransaction.objects.filter(
        order_id=order_id, transaction_type=GiftCardTransaction.Type.REDEMPTION
    ).select_related("gift_card")
    if currency:
        queryset = queryset.filter(gift_card__currency=currency)
    return queryset.order_by("-id")


def gift_card_refunded_total(*, redemption: GiftCardTransaction) -> Decimal:
    return GiftCardTransaction.objects.filter(
        transaction_type=GiftCardTransaction.Type.REFUND, reference_id=str(redemption.public_id)
    ).aggregate(total=Coalesce(Sum("amount"), ZERO))["total"]
