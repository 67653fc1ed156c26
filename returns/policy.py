"""
Return policy: which items may come back, until when, and how many.

`ReturnPolicy` is the configuration (from the `# SECTION: returns` settings); `PolicyEngine`
applies it to mirrored orders. Both are pure reads: no writes, no I/O beyond the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from returns.models import Order, OrderLine, ReturnItem, ReturnRequest
from returns.results import PolicyResult

# Returns that no longer hold quantity: what they asked for can be asked for again.
_RELEASED_STATES = (ReturnRequest.Status.REJECTED, ReturnRequest.Status.CANCELLED)


@dataclass(frozen=True)
class ReturnPolicy:
    window_days: int = 30
    category_window_days: dict[str, int] = field(default_factory=dict)
    non_returnable_categories: frozenset[str] = frozenset()
    returnless_threshold_amount: Decimal = Decimal("0.00")
    store_credit_bonus_percent: Decimal = Decimal("0")
    restocking_fee_percent: Decimal = Decimal("0")
    condition_adjustment_percent: dict[str, Decimal] = field(default_factory=dict)

    @classmethod
    def from_settings(cls) -> ReturnPolicy:
        return cls(
            window_days=settings.RETURNS_WINDOW_DAYS,
            category_window_days=dict(settings.RETURNS_CATEGORY_WINDOW_DAYS),
            non_returnable_categories=frozenset(settings.RETURNS_NON_RETURNABLE_CATEGORIES),
            returnless_threshold_amount=Decimal(settings.RETURNS_RETURNLESS_THRESHOLD_AMOUNT),
            store_credit_bonus_percent=Decimal(settings.RETURNS_STORE_CREDIT_BONUS_PERCENT),
            restocking_fee_percent=Decimal(settings.RETURNS_RESTOCKING_FEE_PERCENT),
            condition_adjustment_percent={
                k: Decimal(v) for k, v in settings.RETURNS_CONDITION_ADJUSTMENT_PERCENT.items()
            },
        )

    def window_days_for(self, category: str) -> int:
        return self.category_window_days.get(category, self.window_days)


class PolicyEngine:
    """Applies the return policy to an order and its lines."""

    def __init__(self, policy: ReturnPolicy | None = None, *, now: datetime | None = None):
        self.policy = policy or ReturnPolicy.from_settings()
        self._now = now

    @property
    def now(self) -> datetime:
        return self._now or timezone.now()

    def window_expires_at(self, *, order: Order, line: OrderLine | None = None) -> datetime | None:
        """When the window closes; None until the order is delivered (the window has not begun)."""
        if order.delivered_at is None:
            return None
        days = self.policy.window_days_for(line.category) if line else self.policy.window_days
        return order.delivered_at + timedelta(days=days)

    def return_window_remaining(self, *, order: Order, line: OrderLine | None = None) -> int:
        """Whole days left in the window, negative once it has passed (floor, like a calendar)."""
        expires_at = self.window_expires_at(order=order, line=line)
        if expires_at is None:
            return self.policy.window_days_for(line.category) if line else self.policy.window_days
        return (expires_at - self.now).days

    def returned_quantity(self, *, line: OrderLine, exclude_return_id: int | None = None) -> int:
        """Units of `line` already held by returns that are not rejected or cancelled."""
        items = ReturnItem.objects.filter(line=line).exclude(
            return_request__status__in=_RELEASED_STATES
        )
        if exclude_return_id is not None:
            items = items.exclude(return_request_id=exclude_return_id)
        return items.aggregate(n=Sum("quantity_requested"))["n"] or 0

    def check_item(self, *, line_item: OrderLine, order: Order) -> PolicyResult:
        """Whether `line_item` may be returned now, how many units, and until when."""
        expires_at = self.window_expires_at(order=order, line=line_item)
        restrictions: list[str] = []
        if line_item.category in self.policy.non_returnable_categories:
            return PolicyResult(returnable=False, reason="non_returnable_category")
        if order.delivered_at is None:
            return PolicyResult(returnable=False, reason="not_delivered")
        if expires_at is not None and self.now > expires_at:
            return PolicyResult(
                returnable=False, reason="return_window_expired", window_expires_at=expires_at
            )
        remaining = line_item.quantity - self.returned_quantity(line=line_item)
        if remaining <= 0:
            return PolicyResult(
                returnable=False, reason="already_returned", window_expires_at=expires_at
            )
        if line_item.category in self.policy.category_window_days:
            days = self.policy.window_days_for(line_item.category)
            restrictions.append(f"{line_item.category}: {days}-day window")
        return PolicyResult(
            returnable=True,
            returnable_quantity=remaining,
            window_expires_at=expires_at,
            restrictions=tuple(restrictions),
        )
