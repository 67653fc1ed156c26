"""
GiftCardService: the gift card app's public write layer (seed 003, Task 2).

Every method is keyword-only, runs in one database transaction, raises a `gift_cards.errors`
exception on refusal and returns a result object. Balance changes happen only here, each
under a row lock (`SELECT … FOR UPDATE`) and each with its ledger row, so concurrent
redemptions cannot overspend and `current_balance` always equals the ledger's sum.

Other apps (returns: store credit and refunds to a card; lessons: completion rewards) call

    GiftCardService().create(amount=Decimal("25.00"), currency="USD", purchaser_id="returns:42")
    GiftCardService().refund_to_card(redemption_id="…", amount=Decimal("10.00"),
                                     idempotency_key="return:42")
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from core import money
from gift_cards import codes, events, queries
from gift_cards.errors import (
    AlreadyRedeemedError,
    BulkLimitError,
    CardVoidedError,
    CurrencyMismatchError,
    ExpiredCardError,
    GiftCardError,
    IdempotencyConflictError,
    InsufficientBalanceError,
    InvalidAmountError,
    InvalidCodeError,
    InvalidExpiryError,
    RedemptionNotFoundError,
    RefundExceedsRedemptionError,
    SameCardTransferError,
    TransferExceedsCapacityError,
)
from gift_cards.models import GiftCard, GiftCardTransaction
from gift_cards.money import (
    ZERO,
    as_currency,
    normalize_currency,
    parse_amount,
    supported_currencies,
)
from gift_cards.results import BalanceResult, RedemptionResult, RefundResult, TransferResult

Txn = GiftCardTransaction
_BULK_CHUNK = 1000


def _text(value: object, *, field: str, max_length: int, required: bool = True) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise ValidationError({field: ["This field is required."]})
    if len(text) > max_length:
        raise ValidationError({field: [f"At most {max_length} characters."]})
    return text


def _requested_amount(amount: object) -> Decimal:
    """The amount as a Decimal before the card (and so its currency) is known."""
    try:
        return money.to_decimal(amount)
    except money.MoneyError as exc:
        raise InvalidAmountError(str(exc), amount=repr(amount)) from exc


def _key_part(amount: Decimal | None, default: str) -> str:
    """Default idempotency keys name "10", "10.0" and "10.00" alike."""
    return default if amount is None else format(amount.normalize(), "f")


def _first(queryset):
    """The row or None: at most one can match (a unique constraint), so no ORDER BY."""
    return next(iter(queryset.order_by()[:1]), None)


def _status_for_balance(card: GiftCard) -> str:
    if card.current_balance == 0:
        return GiftCard.Status.FULLY_REDEEMED
    if card.current_balance == card.original_amount:
        return GiftCard.Status.ACTIVE
    return GiftCard.Status.PARTIALLY_REDEEMED


def _send_recipient_email(card_id: int, code: str) -> None:
    from gift_cards.tasks import gift_card_send_recipient_email_task

    # Never the plain code: broker messages and worker log lines carry task arguments.
    gift_card_send_recipient_email_task.delay(card_id, codes.seal(code))


class GiftCardService:
    """Create, redeem, check, refund, transfer, void, expire and bulk-create gift cards."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = timezone.now,
        generator: codes.CodeGenerator | None = None,
    ):
        self.clock = clock
        self.generator = generator or codes.CodeGenerator()

    # --- lookups ------------------------------------------------------------------------

    def _hash_of(self, code: object) -> tuple[codes.ParsedCode, str]:
        parsed = codes.parse(code)
        if parsed is None:  # format or check character: refused before any query
            raise InvalidCodeError()
        return parsed, codes.code_hash(parsed)

    def _get(self, code: object, *, lock: bool) -> GiftCard:
        _parsed, digest = self._hash_of(code)
        queryset = GiftCard.objects.select_for_update() if lock else GiftCard.objects
        try:
            card = queryset.get(code_hash=digest)
        except GiftCard.DoesNotExist:
            raise InvalidCodeError() from None
        if not codes.hashes_match(card.code_hash, digest):
            raise InvalidCodeError()
        return card

    def _ensure_spendable(self, card: GiftCard) -> None:
        if card.status == GiftCard.Status.VOIDED:
            raise CardVoidedError(gift_card_id=card.pk)
        if card.status == GiftCard.Status.EXPIRED or card.is_past_expiry(self.clock()):
            raise ExpiredCardError(gift_card_id=card.pk, expires_at=card.expires_at.isoformat())

    def _expiry(self, expires_at: datetime | None) -> datetime:
        now = self.clock()
        if expires_at is None:
            return now + timedelta(days=settings.GIFT_CARD_VALIDITY_DAYS)
        if not isinstance(expires_at, datetime) or timezone.is_naive(expires_at):
            raise InvalidExpiryError("expires_at must be a timezone-aware datetime.")
        if expires_at <= now:
            raise InvalidExpiryError(expires_at=expires_at.isoformat())
        return expires_at

    # --- ledger -------------------------------------------------------------------------

    def _post(
        self,
        card: GiftCard,
        transaction_type: str,
        amount: Decimal,
        *,
        status: str | None = None,
        extra_fields: tuple[str, ...] = (),
        **row: object,
    ) -> GiftCardTransaction:
        """Change the locked card's balance by `amount` and write the ledger row for it."""
        before = card.current_balance
        card.current_balance = before + amount
        card.status = status or _status_for_balance(card)
        card.save(update_fields=["current_balance", "status", "updated_at", *extra_fields])
        return Txn.objects.create(
            gift_card=card,
            transaction_type=transaction_type,
            amount=amount,
            balance_before=before,
            balance_after=card.current_balance,
            created_at=self.clock(),
            **row,
        )

    # --- create -------------------------------------------------------------------------

    def create(
        self,
        *,
        amount: Decimal | str | int,
        currency: str = "USD",
        purchaser_id: str,
        recipient_email: str | None = None,
        message: str | None = None,
        expires_at: datetime | None = None,
        acting_user_id: str = "",
    ) -> GiftCard:
        """Issue a card holding `amount` in `currency`; the plain code is on the returned
        instance's `.code`, this once (only its HMAC and last four are stored).

        `amount` is a Decimal, int or numeric string (floats are refused), positive, with
        no more decimals than the currency has and at most the configured maximum.
        `expires_at` defaults to GIFT_CARD_VALIDITY_DAYS (365) from now. A
        `recipient_email` gets the code by email after commit.

        Raises InvalidAmountError, UnsupportedCurrencyError, InvalidExpiryError, or
        django's ValidationError for a blank purchaser or a malformed email.
        """
        currency = normalize_currency(currency)
        value = parse_amount(amount, currency)
        purchaser_id = _text(purchaser_id, field="purchaser_id", max_length=100)
        recipient = _text(recipient_email, field="recipient_email", max_length=254, required=False)
        if recipient:
            try:
                validate_email(recipient)
            except ValidationError as exc:
                raise ValidationError({"recipient_email": exc.messages}) from exc
        message = _text(message, field="message", max_length=1000, required=False)
        acting_user_id = _text(
            acting_user_id, field="acting_user_id", max_length=100, required=False
        )
        expiry = self._expiry(expires_at)

        with transaction.atomic():
            card, code = self._insert_card(
                value=value,
                currency=currency,
                purchaser_id=purchaser_id,
                recipient_email=recipient,
                message=message,
                expires_at=expiry,
            )
            txn = Txn.objects.create(
                gift_card=card,
                transaction_type=Txn.Type.CREATION,
                amount=value,
                balance_before=ZERO,
                balance_after=value,
                actor_id=acting_user_id,
                created_at=card.created_at,
            )
            events.gift_card_created_event(card=card, txn=txn)
            if recipient:
                transaction.on_commit(partial(_send_recipient_email, card.pk, code))
        card.code = code
        return card

    def _insert_card(self, *, value: Decimal, currency: str, **fields: object):
        for _attempt in range(3):
            code = self.generator.generate()
            parsed = codes.parse(code)
            try:
                with transaction.atomic():
                    card = GiftCard.objects.create(
                        code_hash=codes.code_hash(parsed),
                        code_prefix=parsed.prefix,
                        code_length=len(parsed.body),
                        last_four=parsed.last_four,
                        original_amount=value,
                        current_balance=value,
                        currency=currency,
                        created_at=self.clock(),
                        **fields,
                    )
                return card, code
            except IntegrityError:  # a 75-bit collision: draw again
                continue
        raise RuntimeError("Could not draw a unique gift card code.")

    # --- redeem -------------------------------------------------------------------------

    def redeem(
        self,
        *,
        code: str,
        order_id: str,
        amount: Decimal | str | int | None = None,
        idempotency_key: str | None = None,
    ) -> RedemptionResult:
        """Spend `amount` (default: the whole balance) of the card against `order_id`.

        The idempotency key defaults to order id + amount ("10" and "10.00" alike):
        repeating a request returns the first result (`replayed=True`) instead of
        spending again. A key reused for a different order or amount is
        IdempotencyConflictError.

        Raises InvalidCodeError, ExpiredCardError, CardVoidedError,
        InsufficientBalanceError (amount over the balance), AlreadyRedeemedError (zero
        balance), InvalidAmountError.
        """
        order_id = _text(order_id, field="order_id", max_length=100)
        requested = None if amount is None else _requested_amount(amount)
        key = idempotency_key or f"order:{order_id}:{_key_part(requested, 'full')}"
        key = _text(key, field="idempotency_key", max_length=200)
        value = None
        try:
            with transaction.atomic():
                if requested is not None and connection.vendor == "postgresql":
                    spent = self._redeem_in_one_statement(code, requested, order_id, key)
                    if spent is not None:
                        card, txn = spent
                        events.gift_card_redeemed_event(card=card, txn=txn)
                        return self._redemption_result(card, txn, replayed=False)
                card = self._get(code, lock=True)
                if amount is not None:
                    value = parse_amount(amount, card.currency, check_maximum=False)
                refusal = self._redemption_refusal(card, value)
                if refusal is not None:
                    # A retry of a request that already succeeded gets that result back,
                    # even if the card has since been spent, voided or expired.
                    previous = self._previous_redemption(card, key)
                    if previous is None:
                        raise refusal
                    return self._replayed_redemption(card, previous, order_id, value)
                value = card.current_balance if value is None else value
                txn = self._post(
                    card, Txn.Type.REDEMPTION, -value, order_id=order_id, idempotency_key=key
                )
                events.gift_card_redeemed_event(card=card, txn=txn)
                return self._redemption_result(card, txn, replayed=False)
        except IntegrityError:
            # The unique (card, type, key) constraint decides, as get_or_create does: no
            # lookup on the hot path. Everything above was rolled back with the insert.
            card = self._get(code, lock=False)
            previous = self._previous_redemption(card, key)
            if previous is None:
                raise
            return self._replayed_redemption(card, previous, order_id, value)

    def _redeem_in_one_statement(self, code: object, requested: Decimal, order_id: str, key: str):
        """The common case in one round trip (gift_cards/queries.py); None: not this way."""
        _parsed, digest = self._hash_of(code)
        currencies = [c for c in supported_currencies() if money.has_valid_precision(requested, c)]
        if requested <= ZERO or not currencies:
            return None  # the locked path names the refusal
        return queries.redeem_in_one_statement(
            code_hash=digest,
            amount=requested,
            currencies=currencies,
            order_id=order_id,
            idempotency_key=key,
            now=self.clock(),
        )

    def _redemption_refusal(self, card: GiftCard, value: Decimal | None) -> GiftCardError | None:
        try:
            self._ensure_spendable(card)
        except GiftCardError as exc:
            return exc
        if card.current_balance == 0:
            return AlreadyRedeemedError(gift_card_id=card.pk)
        if value is not None and value > card.current_balance:
            return InsufficientBalanceError(
                balance=str(card.balance), requested=str(as_currency(value, card.currency))
            )
        return None

    @staticmethod
    def _previous_redemption(card: GiftCard, key: str) -> GiftCardTransaction | None:
        return _first(
            Txn.objects.filter(
                gift_card_id=card.pk, transaction_type=Txn.Type.REDEMPTION, idempotency_key=key
            )
        )

    def _replayed_redemption(
        self, card: GiftCard, previous: GiftCardTransaction, order_id: str, value: Decimal | None
    ) -> RedemptionResult:
        if previous.order_id != order_id or (value is not None and -previous.amount != value):
            raise IdempotencyConflictError(idempotency_key=previous.idempotency_key)
        return self._redemption_result(card, previous, replayed=True)

    @staticmethod
    def _redemption_result(card: GiftCard, txn: GiftCardTransaction, *, replayed: bool):
        return RedemptionResult(
            redemption_id=str(txn.public_id),
            redeemed_amount=as_currency(-txn.amount, card.currency),
            remaining_balance=as_currency(txn.balance_after, card.currency),
            gift_card=card,
            currency=card.currency,
            order_id=txn.order_id,
            replayed=replayed,
        )

    # --- balance ------------------------------------------------------------------------

    def check_balance(self, *, code: str) -> BalanceResult:
        """Balance and status of a card (read only). Raises InvalidCodeError."""
        card = self._get(code, lock=False)
        return BalanceResult(
            code=card.masked_code,
            original_amount=card.original,
            current_balance=card.balance,
            currency=card.currency,
            status=card.effective_status(self.clock()),
            expires_at=card.expires_at,
        )

    # --- refund -------------------------------------------------------------------------

    def refund_to_card(
        self,
        *,
        redemption_id: str,
        amount: Decimal | str | int | None = None,
        idempotency_key: str | None = None,
    ) -> RefundResult:
        """Give back `amount` (default: all of the redemption not yet refunded) of a
        redemption to the card it came from.

        Several partial refunds may add up to the redemption, never more. The idempotency
        key defaults to redemption id + amount, so a retried call refunds once; two genuine
        refunds of the same amount need distinct keys (e.g. the return's id).

        Raises RedemptionNotFoundError, RefundExceedsRedemptionError, CardVoidedError,
        ExpiredCardError, TransferExceedsCapacityError (the card took transfers since),
        InvalidAmountError.
        """
        try:
            public_id = uuid.UUID(str(redemption_id))
        except ValueError as exc:
            raise RedemptionNotFoundError(redemption_id=str(redemption_id)) from exc
        with transaction.atomic():
            redemption = Txn.objects.filter(
                public_id=public_id, transaction_type=Txn.Type.REDEMPTION
            ).first()
            if redemption is None:
                raise RedemptionNotFoundError(redemption_id=str(redemption_id))
            card = GiftCard.objects.select_for_update().get(pk=redemption.gift_card_id)
            value = (
                None if amount is None else parse_amount(amount, card.currency, check_maximum=False)
            )
            key = idempotency_key or f"redemption:{public_id}:{value or 'rest'}"
            key = _text(key, field="idempotency_key", max_length=200)

            previous = card.transactions.filter(
                transaction_type=Txn.Type.REFUND, idempotency_key=key
            ).first()
            if previous is not None:
                if previous.reference_id != str(public_id) or (
                    value is not None and previous.amount != value
                ):
                    raise IdempotencyConflictError(idempotency_key=key)
                return self._refund_result(card, previous, replayed=True)

            refunded = (
                card.transactions.filter(
                    transaction_type=Txn.Type.REFUND, reference_id=str(public_id)
                ).aggregate(total=Sum("amount"))["total"]
                or ZERO
            )
            remaining = -redemption.amount - refunded
            value = remaining if value is None else value
            if remaining <= 0 or value > remaining:
                raise RefundExceedsRedemptionError(
                    redeemed=str(as_currency(-redemption.amount, card.currency)),
                    already_refunded=str(as_currency(refunded, card.currency)),
                    requested=str(as_currency(value, card.currency)),
                )
            self._ensure_spendable(card)
            if card.current_balance + value > card.original_amount:
                raise TransferExceedsCapacityError(
                    "The card cannot hold more than its original amount.",
                    room=str(
                        as_currency(card.original_amount - card.current_balance, card.currency)
                    ),
                )
            txn = self._post(
                card,
                Txn.Type.REFUND,
                value,
                order_id=redemption.order_id,
                reference_id=str(public_id),
                idempotency_key=key,
            )
            events.gift_card_refunded_event(card=card, txn=txn)
            return self._refund_result(card, txn, replayed=False)

    @staticmethod
    def _refund_result(card: GiftCard, txn: GiftCardTransaction, *, replayed: bool):
        return RefundResult(
            refund_id=str(txn.public_id),
            refunded_amount=as_currency(txn.amount, card.currency),
            new_balance=as_currency(txn.balance_after, card.currency),
            currency=card.currency,
            redemption_id=txn.reference_id,
            replayed=replayed,
        )

    # --- transfer -----------------------------------------------------------------------

    def transfer(
        self,
        *,
        from_code: str,
        to_code: str,
        amount: Decimal | str | int,
        idempotency_key: str | None = None,
    ) -> TransferResult:
        """Move `amount` from one card to another of the same currency.

        Both rows are locked in primary-key order, whichever direction the transfer goes,
        so two opposite transfers cannot deadlock. The destination may hold at most its
        original amount. With an `idempotency_key`, a retry returns the first result.

        Raises InvalidCodeError, SameCardTransferError, CurrencyMismatchError,
        InsufficientBalanceError, ExpiredCardError, CardVoidedError,
        TransferExceedsCapacityError, InvalidAmountError.
        """
        _p, from_hash = self._hash_of(from_code)
        _p, to_hash = self._hash_of(to_code)
        if codes.hashes_match(from_hash, to_hash):
            raise SameCardTransferError()
        with transaction.atomic():
            ids = dict(
                GiftCard.objects.filter(code_hash__in=[from_hash, to_hash]).values_list(
                    "code_hash", "pk"
                )
            )
            if from_hash not in ids or to_hash not in ids:
                raise InvalidCodeError(side="from" if from_hash not in ids else "to")
            locked = {
                pk: GiftCard.objects.select_for_update().get(pk=pk) for pk in sorted(ids.values())
            }
            source, destination = locked[ids[from_hash]], locked[ids[to_hash]]
            key = _text(idempotency_key, field="idempotency_key", max_length=200, required=False)
            if key:
                previous = source.transactions.filter(
                    transaction_type=Txn.Type.TRANSFER_OUT, idempotency_key=key
                ).first()
                if previous is not None:
                    return self._transfer_replay(source, previous, destination)

            if source.currency != destination.currency:
                raise CurrencyMismatchError(
                    from_currency=source.currency, to_currency=destination.currency
                )
            value = parse_amount(amount, source.currency, check_maximum=False)
            self._ensure_spendable(source)
            self._ensure_spendable(destination)
            if value > source.current_balance:
                raise InsufficientBalanceError(balance=str(source.balance), requested=str(value))
            if destination.current_balance + value > destination.original_amount:
                raise TransferExceedsCapacityError(
                    room=str(
                        as_currency(
                            destination.original_amount - destination.current_balance,
                            destination.currency,
                        )
                    )
                )
            transfer_id = str(uuid.uuid4())
            self._post(
                source,
                Txn.Type.TRANSFER_OUT,
                -value,
                reference_id=transfer_id,
                idempotency_key=key,
                metadata={"to_gift_card_id": destination.pk},
            )
            self._post(
                destination,
                Txn.Type.TRANSFER_IN,
                value,
                reference_id=transfer_id,
                idempotency_key=key,
                metadata={"from_gift_card_id": source.pk},
            )
            events.gift_card_transferred_event(
                source=source, destination=destination, transfer_id=transfer_id, amount=value
            )
            return TransferResult(
                transfer_id=transfer_id,
                amount=as_currency(value, source.currency),
                from_balance=source.balance,
                to_balance=destination.balance,
                currency=source.currency,
            )

    @staticmethod
    def _transfer_replay(source: GiftCard, out: GiftCardTransaction, destination: GiftCard):
        incoming = Txn.objects.filter(
            transaction_type=Txn.Type.TRANSFER_IN, reference_id=out.reference_id
        ).first()
        if incoming is None or incoming.gift_card_id != destination.pk:
            raise IdempotencyConflictError(idempotency_key=out.idempotency_key)
        return TransferResult(
            transfer_id=out.reference_id,
            amount=as_currency(-out.amount, source.currency),
            from_balance=as_currency(out.balance_after, source.currency),
            to_balance=as_currency(incoming.balance_after, source.currency),
            currency=source.currency,
            replayed=True,
        )

    # --- void ---------------------------------------------------------------------------

    def void(self, *, code: str, reason: str, admin_id: str) -> bool:
        """Cancel a card (staff only: callers check permission). Its balance goes to zero in
        a `void` ledger row carrying the actor. False if it was already voided."""
        with transaction.atomic():
            card = self._get(code, lock=True)
            return self._void(card, reason=reason, admin_id=admin_id)

    def void_card(self, *, gift_card_id: int, reason: str, admin_id: str) -> bool:
        """`void` for staff who hold the card's id rather than its code (admin, API)."""
        with transaction.atomic():
            card = GiftCard.objects.select_for_update().filter(pk=gift_card_id).first()
            if card is None:
                raise InvalidCodeError(gift_card_id=gift_card_id)
            return self._void(card, reason=reason, admin_id=admin_id)

    def _void(self, card: GiftCard, *, reason: str, admin_id: str) -> bool:
        reason = _text(reason, field="reason", max_length=1000)
        admin_id = _text(admin_id, field="admin_id", max_length=100)
        if card.status == GiftCard.Status.VOIDED:
            return False
        card.voided_at = self.clock()
        card.voided_by = admin_id
        card.void_reason = reason
        txn = self._post(
            card,
            Txn.Type.VOID,
            -card.current_balance,
            status=GiftCard.Status.VOIDED,
            extra_fields=("voided_at", "voided_by", "void_reason"),
            actor_id=admin_id,
            metadata={"reason": reason},
        )
        events.gift_card_voided_event(card=card, txn=txn)
        return True

    # --- expiry -------------------------------------------------------------------------

    def extend_expiry(self, *, gift_card_id: int, expires_at: datetime, admin_id: str) -> GiftCard:
        """Move a live card's expiry later (staff); recorded in the ledger with the actor."""
        admin_id = _text(admin_id, field="admin_id", max_length=100)
        with transaction.atomic():
            card = GiftCard.objects.select_for_update().filter(pk=gift_card_id).first()
            if card is None:
                raise InvalidCodeError(gift_card_id=gift_card_id)
            self._ensure_spendable_or_spent(card)
            new_expiry = self._expiry(expires_at)
            if new_expiry <= card.expires_at:
                raise InvalidExpiryError("The new expiry must be later than the current one.")
            previous = card.expires_at
            card.expires_at = new_expiry
            self._post(
                card,
                Txn.Type.EXPIRY_EXTENDED,
                ZERO,
                status=card.status,
                extra_fields=("expires_at",),
                actor_id=admin_id,
                metadata={"from": previous.isoformat(), "to": new_expiry.isoformat()},
            )
            return card

    def _ensure_spendable_or_spent(self, card: GiftCard) -> None:
        if card.status == GiftCard.Status.VOIDED:
            raise CardVoidedError(gift_card_id=card.pk)
        if card.status == GiftCard.Status.EXPIRED:
            raise ExpiredCardError(gift_card_id=card.pk)

    def expire_overdue(self, *, batch_size: int = 500) -> int:
        """Expire every open card past `expires_at`: status expired, the remaining balance
        written off in an `expiration` row, a gift_card.expired event. Rows another
        transaction holds are skipped and picked up by the next run. Returns the count."""
        expired = 0
        while True:
            with transaction.atomic():
                batch = list(
                    GiftCard.objects.select_for_update(skip_locked=True)
                    .filter(status__in=GiftCard.OPEN, expires_at__lte=self.clock())
                    .order_by("pk")[:batch_size]
                )
                for card in batch:
                    forfeited = card.current_balance
                    txn = self._post(
                        card,
                        Txn.Type.EXPIRATION,
                        -forfeited,
                        status=GiftCard.Status.EXPIRED,
                        metadata={"forfeited": str(as_currency(forfeited, card.currency))},
                    )
                    events.gift_card_expired_event(card=card, txn=txn)
            expired += len(batch)
            if len(batch) < batch_size:
                return expired

    # --- bulk ---------------------------------------------------------------------------

    def bulk_create(
        self,
        *,
        count: int,
        amount: Decimal | str | int,
        currency: str = "USD",
        prefix: str = "PROMO",
        expires_at: datetime | None = None,
        acting_user_id: str = "",
        progress: Callable[[int], None] | None = None,
    ) -> list[GiftCard]:
        """Issue `count` promotional cards of `amount` each, in one transaction, with codes
        `PREFIX-XXXX-…` (plain codes on each returned card's `.code`, this once).
        `progress(n)` is called as chunks of cards are written.

        Raises BulkLimitError (count outside 1..GIFT_CARD_BULK_MAX), InvalidAmountError,
        UnsupportedCurrencyError, InvalidExpiryError, ValueError for a bad prefix.
        """
        if isinstance(count, bool) or not isinstance(count, int):
            raise BulkLimitError("count must be an integer.")
        if not 1 <= count <= settings.GIFT_CARD_BULK_MAX:
            raise BulkLimitError(count=count, maximum=settings.GIFT_CARD_BULK_MAX)
        currency = normalize_currency(currency)
        value = parse_amount(amount, currency)
        expiry = self._expiry(expires_at)
        prefix = (prefix or "").strip().upper()
        self.generator.generate(prefix=prefix)  # refuses a malformed prefix up front
        purchaser = f"promotion:{prefix}"
        acting_user_id = _text(
            acting_user_id, field="acting_user_id", max_length=100, required=False
        )

        cards: list[GiftCard] = []
        with transaction.atomic():
            for start in range(0, count, _BULK_CHUNK):
                chunk = self._bulk_chunk(
                    size=min(_BULK_CHUNK, count - start),
                    prefix=prefix,
                    value=value,
                    currency=currency,
                    expiry=expiry,
                    purchaser=purchaser,
                )
                txns = Txn.objects.bulk_create(
                    Txn(
                        gift_card=card,
                        transaction_type=Txn.Type.CREATION,
                        amount=value,
                        balance_before=ZERO,
                        balance_after=value,
                        actor_id=acting_user_id,
                        created_at=card.created_at,
                        metadata={"bulk": True},
                    )
                    for card in chunk
                )
                for card, txn in zip(chunk, txns, strict=True):
                    events.gift_card_created_event(card=card, txn=txn)
                cards.extend(chunk)
                if progress:
                    progress(len(chunk))
        return cards

    def _bulk_chunk(self, *, size: int, prefix: str, value, currency, expiry, purchaser):
        for _attempt in range(3):
            plain = {self.generator.generate(prefix=prefix) for _ in range(size)}
            if len(plain) < size:
                continue
            now = self.clock()
            chunk = []
            for code in plain:
                parsed = codes.parse(code)
                card = GiftCard(
                    code_hash=codes.code_hash(parsed),
                    code_prefix=parsed.prefix,
                    code_length=len(parsed.body),
                    last_four=parsed.last_four,
                    original_amount=value,
                    current_balance=value,
                    currency=currency,
                    purchaser_id=purchaser,
                    expires_at=expiry,
                    created_at=now,
                )
                card.code = code
                chunk.append(card)
            try:
                with transaction.atomic():
                    return GiftCard.objects.bulk_create(chunk)
            except IntegrityError:  # a collision with an existing card: draw the chunk again
                continue
        raise RuntimeError("Could not draw unique gift card codes.")
