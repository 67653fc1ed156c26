"""
The redemption hot path in one PostgreSQL statement.

`GiftCardService.redeem` first tries a conditional UPDATE of the card joined to the INSERT
of its ledger row: the UPDATE takes the row lock and re-checks its WHERE clause against the
newest row version (PostgreSQL's READ COMMITTED re-evaluation), so two concurrent
redemptions can never both spend the same balance, exactly as with SELECT … FOR UPDATE,
but in one round trip instead of three. When the WHERE clause refuses (unknown code, not
spendable, expired, insufficient balance, wrong currency precision) nothing was changed and
the service falls back to its locked read, which names the precise refusal. A repeated
idempotency key trips the ledger's unique constraint and the service replays the first
result, as before.

Hand-written SQL because the ORM cannot express a data-modifying CTE; SQLite (the embedded
mode) keeps the ORM path.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from functools import cache

from django.db import connection

from gift_cards.models import GiftCard, GiftCardTransaction


@cache
def _card_columns() -> tuple[tuple[str, ...], str]:
    fields = GiftCard._meta.concrete_fields
    attnames = tuple(field.attname for field in fields)
    columns = ", ".join(f'card."{field.column}"' for field in fields)
    return attnames, columns


def _sql() -> str:
    _attnames, columns = _card_columns()
    card_table = GiftCard._meta.db_table
    ledger_table = GiftCardTransaction._meta.db_table
    return f"""
        WITH card AS (
            UPDATE {card_table}
               SET current_balance = current_balance - %(amount)s,
                   status = CASE WHEN current_balance = %(amount)s
                                 THEN 'fully_redeemed' ELSE 'partially_redeemed' END,
                   updated_at = %(now)s
             WHERE code_hash = %(code_hash)s
               AND status IN ('active', 'partially_redeemed')
               AND expires_at > %(now)s
               AND current_balance >= %(amount)s
               AND currency = ANY(%(currencies)s)
            RETURNING *
        ), txn AS (
            INSERT INTO {ledger_table} (
                public_id, gift_card_id, transaction_type, amount, balance_before,
                balance_after, order_id, reference_id, idempotency_key, actor_id, metadata,
                created_at
            )
            SELECT %(public_id)s, card.id, 'redemption', -%(amount)s,
                   card.current_balance + %(amount)s, card.current_balance, %(order_id)s, '',
                   %(idempotency_key)s, '', '{{}}', %(now)s
              FROM card
            RETURNING id
        )
        SELECT txn.id, {columns} FROM card, txn
    """  # noqa: S608 - table and column names come from the models


def redeem_in_one_statement(
    *,
    code_hash: str,
    amount: Decimal,
    currencies: list[str],
    order_id: str,
    idempotency_key: str,
    now: datetime,
) -> tuple[GiftCard, GiftCardTransaction] | None:
    """Spend `amount` if the card can pay it; None (nothing changed) if it cannot.

    Must run inside the caller's transaction (the outbox event joins it). Raises
    IntegrityError when the idempotency key was used before on this card.
    """
    public_id = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            _sql(),
            {
                "amount": amount,
                "now": now,
                "code_hash": code_hash,
                "currencies": currencies,
                "public_id": public_id,
                "order_id": order_id,
                "idempotency_key": idempotency_key,
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    attnames, _columns = _card_columns()
    card = GiftCard.from_db(connection.alias, attnames, row[1:])
    txn = GiftCardTransaction(
        id=row[0],
        public_id=public_id,
        gift_card=card,
        transaction_type=GiftCardTransaction.Type.REDEMPTION,
        amount=-amount,
        balance_before=card.current_balance + amount,
        balance_after=card.current_balance,
        order_id=order_id,
        idempotency_key=idempotency_key,
        created_at=now,
    )
    txn._state.adding = False
    txn._state.db = connection.alias
    return card, txn
