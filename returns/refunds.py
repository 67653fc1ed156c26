"""
Where refund money goes, one function per destination, so each integration is one place.

- original payment: the payments service over HTTP (`returns.payments`), outside any
  database transaction, with the return's idempotency key;
- store credit / gift card: a gift card issued through `gift_cards.services.GiftCardService`
  (the only call returns makes into gift_cards), inside the completing transaction so the
  card exists exactly when the return is completed;
- exchange: a replacement-order event for the orders service, through the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.outbox import publish_event
from returns.payments import PaymentRefund, PaymentsClient


@dataclass(frozen=True)
class IssuedCredit:
    gift_card_id: str
    code_last4: str
    amount: Decimal
    currency: str


def refund_idempotency_key(return_id: int, generation: int = 1) -> str:
    return f"return-{return_id}-refund-{generation}"


def refund_to_original_payment(
    *,
    return_id: int,
    generation: int,
    rma_number: str,
    payment_reference: str,
    amount: Decimal,
    currency: str,
    lines: list[dict],
    client: PaymentsClient | None = None,
) -> PaymentRefund:
    return (client or PaymentsClient()).refund(
        payment_reference=payment_reference,
        amount=amount,
        currency=currency,
        idempotency_key=refund_idempotency_key(return_id, generation),
        reference=rma_number,
        metadata={"return_id": return_id, "rma_number": rma_number, "lines": lines},
    )


def issue_store_credit(
    *,
    amount: Decimal,
    currency: str,
    customer_id: str,
    recipient_email: str | None,
    message: str,
    acting_user_id: str = "",
) -> IssuedCredit:
    """Issue a gift card worth `amount` to the customer (store credit is a gift card)."""
    from gift_cards.services import GiftCardService

    card = GiftCardService().create(
        amount=amount,
        currency=currency,
        purchaser_id=customer_id,
        recipient_email=recipient_email or None,
        message=message,
        acting_user_id=acting_user_id,
    )
    # The plain code goes to the recipient from gift_cards (email after commit); only its
    # last four characters are kept here.
    return IssuedCredit(
        gift_card_id=str(card.pk), code_last4=card.last_four, amount=amount, currency=currency
    )


def request_exchange(
    *,
    return_id: int,
    rma_number: str,
    order_id: str,
    customer_id: str,
    lines: list[dict],
    value: Decimal,
    currency: str,
) -> str:
    """Ask the orders service for a replacement order; its event id is the transaction id."""
    event = publish_event(
        "order.replacement_requested",
        {
            "return_id": return_id,
            "rma_number": rma_number,
            "order_id": order_id,
            "customer_id": customer_id,
            "lines": lines,
            "value": str(value),
            "currency": currency,
        },
    )
    return f"exchange-{event.event_id}"
