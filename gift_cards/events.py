"""
Domain events of the gift card app, written to core's outbox inside the service's
transaction. Payloads never carry a code: only the card id and its last four characters.
"""

from __future__ import annotations

from decimal import Decimal

from core.outbox import publish_event
from gift_cards.models import GiftCard, GiftCardTransaction
from gift_cards.money import as_currency


def _card(card: GiftCard) -> dict:
    return {
        "gift_card_id": card.pk,
        "last_four": card.last_four,
        "currency": card.currency,
        "balance": str(card.balance),
        "status": card.status,
    }


def _money(amount: Decimal, card: GiftCard) -> str:
    return str(as_currency(abs(amount), card.currency))


def gift_card_created_event(*, card: GiftCard, txn: GiftCardTransaction) -> None:
    publish_event(
        "gift_card.created",
        {
            **_card(card),
            "amount": str(card.original),
            "purchaser_id": card.purchaser_id,
            "expires_at": card.expires_at,
            "transaction_id": str(txn.public_id),
        },
    )


def gift_card_redeemed_event(*, card: GiftCard, txn: GiftCardTransaction) -> None:
    publish_event(
        "gift_card.redeemed",
        {
            **_card(card),
            "redemption_id": str(txn.public_id),
            "order_id": txn.order_id,
            "amount": _money(txn.amount, card),
        },
    )


def gift_card_refunded_event(*, card: GiftCard, txn: GiftCardTransaction) -> None:
    publish_event(
        "gift_card.refunded",
        {
            **_card(card),
            "refund_id": str(txn.public_id),
            "redemption_id": txn.reference_id,
            "order_id": txn.order_id,
            "amount": _money(txn.amount, card),
        },
    )


def gift_card_transferred_event(
    *, source: GiftCard, destination: GiftCard, transfer_id: str, amount: Decimal
) -> None:
    publish_event(
        "gift_card.transferred",
        {
            "transfer_id": transfer_id,
            "from_gift_card_id": source.pk,
            "to_gift_card_id": destination.pk,
            "currency": source.currency,
            "amount": str(amount),
            "from_balance": str(source.balance),
            "to_balance": str(destination.balance),
        },
    )


def gift_card_expired_event(*, card: GiftCard, txn: GiftCardTransaction) -> None:
    publish_event(
        "gift_card.expired",
        {
            **_card(card),
            "forfeited_amount": _money(txn.amount, card),
            "expires_at": card.expires_at,
        },
    )


def gift_card_voided_event(*, card: GiftCard, txn: GiftCardTransaction) -> None:
    publish_event(
        "gift_card.voided",
        {
            **_card(card),
            "voided_amount": _money(txn.amount, card),
            "voided_by": card.voided_by,
            "reason": card.void_reason,
        },
    )
