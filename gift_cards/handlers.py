"""
Reactions to order events (registered in GiftCardsConfig.ready()).

- order.refunded {"order_id", "amount"?, "currency"?}: give the refunded amount back to the
  gift cards the order was paid with, newest redemption first (all of it if no amount).
- order.cancelled {"order_id"}: release every redemption of the order in full.

Both are idempotent twice over: the outbox runs a handler once per event, and each refund
carries the key `event:<event id>:<redemption id>`, so a redelivered event refunds nothing
more. A card that can no longer take money (voided, expired) is logged and skipped; the
order's owner settles that amount another way.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from core import money
from core.outbox import subscribe
from gift_cards.errors import GiftCardError
from gift_cards.selectors import gift_card_redemptions_for_order, gift_card_refunded_total
from gift_cards.services import GiftCardService

logger = logging.getLogger(__name__)


def _release(event, *, limit: Decimal | None, currency: str | None) -> Decimal:
    order_id = str(event.payload.get("order_id") or "")
    if not order_id:
        logger.warning("order event without order_id", extra={"event_id": str(event.event_id)})
        return Decimal(0)
    service = GiftCardService()
    released = Decimal(0)
    for redemption in gift_card_redemptions_for_order(order_id=order_id, currency=currency):
        remaining = -redemption.amount - gift_card_refunded_total(redemption=redemption)
        if limit is not None:
            remaining = min(remaining, limit - released)
        if remaining <= 0:
            continue
        try:
            result = service.refund_to_card(
                redemption_id=str(redemption.public_id),
                amount=remaining,
                idempotency_key=f"event:{event.event_id}:{redemption.public_id}",
            )
        except GiftCardError as exc:
            logger.warning(
                "gift card refund skipped",
                extra={
                    "order_id": order_id,
                    "redemption_id": str(redemption.public_id),
                    "code": exc.code,
                },
            )
            continue
        released += result.refunded_amount
        if limit is not None and released >= limit:
            break
    return released


@subscribe("order.refunded")
def on_order_refunded(event) -> None:
    raw_amount = event.payload.get("amount")
    currency = event.payload.get("currency")
    limit = None
    if raw_amount not in (None, ""):
        try:
            limit = money.to_decimal(raw_amount)
        except money.MoneyError:
            logger.warning("order.refunded with a bad amount", extra={"amount": str(raw_amount)})
            return
    _release(event, limit=limit, currency=currency.upper() if currency else None)


@subscribe("order.cancelled")
def on_order_cancelled(event) -> None:
    _release(event, limit=None, currency=None)
