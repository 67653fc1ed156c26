"""The result objects GiftCardService returns (seed 003), as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gift_cards.models import GiftCard


@dataclass(frozen=True)
class RedemptionResult:
    redemption_id: str
    redeemed_amount: Decimal
    remaining_balance: Decimal
    gift_card: GiftCard
    currency: str
    order_id: str
    # True when an earlier request with the same idempotency key already did the work and
    # this is its result, unchanged.
    replayed: bool = False


@dataclass(frozen=True)
class BalanceResult:
    code: str  # masked: only the last four characters are readable
    original_amount: Decimal
    current_balance: Decimal
    currency: str
    status: str
    expires_at: datetime


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    refunded_amount: Decimal
    new_balance: Decimal
    currency: str
    redemption_id: str
    replayed: bool = False


@dataclass(frozen=True)
class TransferResult:
    transfer_id: str
    amount: Decimal
    from_balance: Decimal
    to_balance: Decimal
    currency: str
    replayed: bool = False
