"""Unit: GiftCardService, one behaviour per test, on the real database."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.models import OutboxEvent
from gift_cards.errors import (
    AlreadyRedeemedError,
    BulkLimitError,
    CardVoidedError,
    CurrencyMismatchError,
    ExpiredCardError,
    IdempotencyConflictError,
    InsufficientBalanceError,
    InvalidAmountError,
    InvalidCodeError,
    InvalidExpiryError,
    RedemptionNotFoundError,
    RefundExceedsRedemptionError,
    SameCardTransferError,
    TransferExceedsCapacityError,
    UnsupportedCurrencyError,
)
from gift_cards.models import GiftCard, GiftCardTransaction
from gift_cards.results import BalanceResult, RedemptionResult, RefundResult, TransferResult

pytestmark = pytest.mark.django_db
Txn = GiftCardTransaction


def _types(card):
    return list(card.transactions.order_by("id").values_list("transaction_type", flat=True))


# --- create ---------------------------------------------------------------------------


def test_create_issues_an_active_card_with_a_creation_row(service):
    # when
    card = service.create(amount=Decimal("50.00"), currency="USD", purchaser_id="user-1")
    # then
    card.refresh_from_db()
    assert card.status == GiftCard.Status.ACTIVE
    assert card.balance == Decimal("50.00") == card.original
    [row] = card.transactions.all()
    assert (row.transaction_type, row.amount, row.balance_before, row.balance_after) == (
        "creation",
        Decimal("50.000"),
        0,
        Decimal("50.000"),
    )


def test_create_returns_the_plain_code_once_and_stores_only_hash_and_last_four(service):
    card = service.create(amount="10", purchaser_id="user-1")
    stored = GiftCard.objects.get(pk=card.pk)
    assert card.code.endswith(stored.last_four)
    assert stored.code is None
    assert card.code not in stored.code_hash
    assert stored.masked_code == f"GIFT-****-****-****-{stored.last_four}"


def test_create_with_all_options(service):
    expires = timezone.now() + timedelta(days=30)
    card = service.create(
        amount="75.50",
        currency="eur",
        purchaser_id="user-9",
        recipient_email="friend@example.com",
        message="Happy birthday",
        expires_at=expires,
    )
    card.refresh_from_db()
    assert (card.currency, card.original, card.purchaser_id) == ("EUR", Decimal("75.50"), "user-9")
    assert card.recipient_email == "friend@example.com"
    assert card.message == "Happy birthday"
    assert card.expires_at == expires


def test_create_defaults_expiry_to_a_year(clocked_service, clock):
    card = clocked_service.create(amount="10", purchaser_id="u")
    assert card.expires_at == clock.now + timedelta(days=365)


def test_create_publishes_gift_card_created_without_the_code(service):
    card = service.create(amount="10", purchaser_id="u")
    event = OutboxEvent.objects.get(topic="gift_card.created")
    assert event.payload["gift_card_id"] == card.pk
    assert event.payload["amount"] == "10.00"
    assert card.code not in str(event.payload)


@pytest.mark.parametrize("amount", ["0", "-5", "NaN", "Infinity", "abc", "", None])
def test_create_refuses_invalid_amounts(service, amount):
    with pytest.raises(InvalidAmountError):
        service.create(amount=amount, purchaser_id="u")
    assert not GiftCard.objects.exists()


def test_create_refuses_amount_over_the_maximum(service, settings):
    settings.GIFT_CARD_MAX_AMOUNTS = {"*": "500"}
    with pytest.raises(InvalidAmountError) as info:
        service.create(amount="500.01", purchaser_id="u")
    assert info.value.extra["maximum"] == "500"


@pytest.mark.parametrize("currency", ["XXX", "usdd", "", None, "BTC"])
def test_create_refuses_unsupported_currencies(service, currency):
    with pytest.raises(UnsupportedCurrencyError):
        service.create(amount="10", currency=currency, purchaser_id="u")


def test_create_refuses_expiry_in_the_past(service):
    with pytest.raises(InvalidExpiryError):
        service.create(amount="10", purchaser_id="u", expires_at=timezone.now() - timedelta(1))


def test_create_refuses_a_malformed_recipient_email(service):
    with pytest.raises(ValidationError) as info:
        service.create(amount="10", purchaser_id="u", recipient_email="not-an-email")
    assert "recipient_email" in info.value.message_dict


def test_create_requires_a_purchaser(service):
    with pytest.raises(ValidationError):
        service.create(amount="10", purchaser_id="  ")


# --- redeem ---------------------------------------------------------------------------


def test_partial_redemption_leaves_the_rest(service, card):
    # when
    result = service.redeem(code=card.code, order_id="order-1", amount="30.00")
    # then
    assert isinstance(result, RedemptionResult)
    assert result.redeemed_amount == Decimal("30.00")
    assert result.remaining_balance == Decimal("70.00")
    card.refresh_from_db()
    assert card.status == GiftCard.Status.PARTIALLY_REDEEMED
    assert _types(card) == ["creation", "redemption"]


def test_a_spendable_redemption_touches_the_card_in_one_statement(service, card):
    # given
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # when
    with CaptureQueriesContext(connection) as queries:
        result = service.redeem(code=card.code, order_id="order-1", amount="30.00")
    # then: one UPDATE … RETURNING joined to the ledger INSERT, no separate locked read
    card_statements = [q["sql"] for q in queries if "gift_cards_giftcard" in q["sql"]]
    assert len(card_statements) == 1
    assert "FOR UPDATE" not in card_statements[0]
    assert result.gift_card.balance == Decimal("70.00")
    assert Txn.objects.get(public_id=result.redemption_id).balance_after == Decimal("70.00")


def test_a_refused_redemption_names_its_reason_and_writes_nothing(service, card):
    # given: an amount with more decimals than USD has
    with pytest.raises(InvalidAmountError):
        service.redeem(code=card.code, order_id="order-1", amount="1.005")
    # then
    assert _types(card) == ["creation"]
    assert not OutboxEvent.objects.filter(topic="gift_card.redeemed").exists()


def test_redeeming_without_amount_takes_the_whole_balance(service, card):
    result = service.redeem(code=card.code, order_id="order-1")
    assert result.redeemed_amount == Decimal("100.00")
    card.refresh_from_db()
    assert (card.balance, card.status) == (0, GiftCard.Status.FULLY_REDEEMED)


def test_redeeming_the_exact_balance_fully_redeems(service, card):
    service.redeem(code=card.code, order_id="o1", amount="60")
    result = service.redeem(code=card.code, order_id="o2", amount="40")
    assert result.remaining_balance == 0
    assert GiftCard.objects.get(pk=card.pk).status == GiftCard.Status.FULLY_REDEEMED


def test_redeeming_more_than_the_balance_is_refused_and_changes_nothing(service, card):
    with pytest.raises(InsufficientBalanceError) as info:
        service.redeem(code=card.code, order_id="o1", amount="100.01")
    assert info.value.extra == {"balance": "100.00", "requested": "100.01"}
    assert GiftCard.objects.get(pk=card.pk).balance == Decimal("100.00")
    assert _types(card) == ["creation"]


def test_redeeming_an_empty_card_is_already_redeemed(service, card):
    service.redeem(code=card.code, order_id="o1")
    with pytest.raises(AlreadyRedeemedError):
        service.redeem(code=card.code, order_id="o2", amount="1")


def test_redeeming_an_unknown_code_is_invalid(service, card):
    other = service.generator.generate()
    with pytest.raises(InvalidCodeError):
        service.redeem(code=other, order_id="o1", amount="1")


def test_redeeming_a_mistyped_code_is_invalid(service, card):
    typo = card.code[:-1] + ("2" if card.code[-1] != "2" else "3")
    with pytest.raises(InvalidCodeError):
        service.redeem(code=typo, order_id="o1", amount="1")


def test_redeeming_past_expiry_is_refused_before_the_job_runs(clocked_service, clock):
    card = clocked_service.create(amount="20", purchaser_id="u")
    clock.advance(days=366)
    with pytest.raises(ExpiredCardError):
        clocked_service.redeem(code=card.code, order_id="o1", amount="1")
    assert GiftCard.objects.get(pk=card.pk).balance == Decimal("20.00")


def test_redeeming_a_voided_card_is_refused(service, card):
    service.void(code=card.code, reason="fraud", admin_id="staff-1")
    with pytest.raises(CardVoidedError):
        service.redeem(code=card.code, order_id="o1", amount="1")


def test_redeem_accepts_the_code_in_any_case_and_spacing(service, card):
    result = service.redeem(code=f"  {card.code.lower()} ", order_id="o1", amount="1")
    assert result.remaining_balance == Decimal("99.00")


def test_redeem_publishes_gift_card_redeemed(service, card):
    result = service.redeem(code=card.code, order_id="o-7", amount="12.50")
    event = OutboxEvent.objects.get(topic="gift_card.redeemed")
    assert event.payload["redemption_id"] == result.redemption_id
    assert event.payload["order_id"] == "o-7"
    assert event.payload["amount"] == "12.50"
    assert event.payload["balance"] == "87.50"


def test_retried_redeem_with_same_order_and_amount_redeems_once(service, card):
    first = service.redeem(code=card.code, order_id="o1", amount="10")
    again = service.redeem(code=card.code, order_id="o1", amount="10")
    assert again.replayed and not first.replayed
    assert again.redemption_id == first.redemption_id
    assert GiftCard.objects.get(pk=card.pk).balance == Decimal("90.00")


def test_explicit_idempotency_key_reused_for_another_order_is_a_conflict(service, card):
    service.redeem(code=card.code, order_id="o1", amount="10", idempotency_key="k1")
    with pytest.raises(IdempotencyConflictError):
        service.redeem(code=card.code, order_id="o2", amount="10", idempotency_key="k1")


def test_distinct_keys_on_the_same_order_redeem_twice(service, card):
    service.redeem(code=card.code, order_id="o1", amount="10", idempotency_key="a")
    service.redeem(code=card.code, order_id="o1", amount="10", idempotency_key="b")
    assert GiftCard.objects.get(pk=card.pk).balance == Decimal("80.00")


# --- balance --------------------------------------------------------------------------


def test_check_balance_reports_masked_code_amounts_and_status(service, card):
    service.redeem(code=card.code, order_id="o1", amount="25")
    result = service.check_balance(code=card.code)
    assert isinstance(result, BalanceResult)
    assert result.code == card.masked_code
    assert (result.original_amount, result.current_balance) == (Decimal("100.00"), Decimal("75.00"))
    assert (result.currency, result.status) == ("USD", "partially_redeemed")


def test_check_balance_shows_expired_for_a_card_past_its_date(clocked_service, clock):
    card = clocked_service.create(amount="20", purchaser_id="u")
    clock.advance(days=400)
    assert clocked_service.check_balance(code=card.code).status == "expired"


def test_check_balance_of_unknown_code_is_invalid(service):
    with pytest.raises(InvalidCodeError):
        service.check_balance(code="GIFT-AAAA-BBBB-CCCC-DDDD")


# --- refund ---------------------------------------------------------------------------


def test_refund_returns_a_redemption_to_the_card(service, card):
    redemption = service.redeem(code=card.code, order_id="o1", amount="40")
    result = service.refund_to_card(redemption_id=redemption.redemption_id)
    assert isinstance(result, RefundResult)
    assert (result.refunded_amount, result.new_balance) == (Decimal("40.00"), Decimal("100.00"))
    card.refresh_from_db()
    assert card.status == GiftCard.Status.ACTIVE
    refund = card.transactions.get(transaction_type="refund")
    assert refund.reference_id == redemption.redemption_id and refund.order_id == "o1"


def test_partial_refunds_add_up_to_the_redemption_and_no_further(service, card):
    redemption = service.redeem(code=card.code, order_id="o1", amount="30")
    service.refund_to_card(redemption_id=redemption.redemption_id, amount="10")
    service.refund_to_card(redemption_id=redemption.redemption_id, amount="15")
    with pytest.raises(RefundExceedsRedemptionError) as info:
        service.refund_to_card(redemption_id=redemption.redemption_id, amount="5.01")
    assert info.value.extra["already_refunded"] == "25.00"
    last = service.refund_to_card(redemption_id=redemption.redemption_id)
    assert last.refunded_amount == Decimal("5.00")


def test_refund_larger_than_the_redemption_is_refused(service, card):
    redemption = service.redeem(code=card.code, order_id="o1", amount="30")
    with pytest.raises(RefundExceedsRedemptionError):
        service.refund_to_card(redemption_id=redemption.redemption_id, amount="30.01")


@pytest.mark.parametrize("redemption_id", ["nope", "00000000-0000-0000-0000-000000000000"])
def test_refund_of_an_unknown_redemption_is_not_found(service, redemption_id):
    with pytest.raises(RedemptionNotFoundError):
        service.refund_to_card(redemption_id=redemption_id)


def test_refund_of_a_non_redemption_row_is_not_found(service, card):
    creation = card.transactions.get()
    with pytest.raises(RedemptionNotFoundError):
        service.refund_to_card(redemption_id=str(creation.public_id))


def test_retried_refund_refunds_once(service, card):
    redemption = service.redeem(code=card.code, order_id="o1", amount="30")
    first = service.refund_to_card(redemption_id=redemption.redemption_id, amount="10")
    again = service.refund_to_card(redemption_id=redemption.redemption_id, amount="10")
    assert again.replayed and again.refund_id == first.refund_id
    assert GiftCard.objects.get(pk=card.pk).balance == Decimal("80.00")


def test_refund_to_a_voided_card_is_refused(service, card):
    redemption = service.redeem(code=card.code, order_id="o1", amount="30")
    service.void(code=card.code, reason="fraud", admin_id="staff")
    with pytest.raises(CardVoidedError):
        service.refund_to_card(redemption_id=redemption.redemption_id)


def test_refund_publishes_gift_card_refunded(service, card):
    redemption = service.redeem(code=card.code, order_id="o1", amount="30")
    result = service.refund_to_card(redemption_id=redemption.redemption_id, amount="7.25")
    event = OutboxEvent.objects.get(topic="gift_card.refunded")
    assert event.payload["refund_id"] == result.refund_id
    assert event.payload["amount"] == "7.25"


# --- transfer -------------------------------------------------------------------------


def test_transfer_moves_balance_between_cards(service, make_card):
    source = make_card(amount="100")
    destination = make_card(amount="50")
    service.redeem(code=destination.code, order_id="o1", amount="30")
    result = service.transfer(from_code=source.code, to_code=destination.code, amount="25")
    assert isinstance(result, TransferResult)
    assert (result.from_balance, result.to_balance) == (Decimal("75.00"), Decimal("45.00"))
    out = source.transactions.get(transaction_type="transfer_out")
    incoming = destination.transactions.get(transaction_type="transfer_in")
    assert out.reference_id == incoming.reference_id == result.transfer_id
    assert (out.amount, incoming.amount) == (Decimal("-25"), Decimal("25"))


def test_transfer_between_currencies_is_refused(service, make_card):
    usd = make_card(amount="100")
    eur = make_card(amount="50", currency="EUR")
    service.redeem(code=eur.code, order_id="o1", amount="30")
    with pytest.raises(CurrencyMismatchError):
        service.transfer(from_code=usd.code, to_code=eur.code, amount="10")


def test_transfer_over_the_source_balance_is_refused(service, make_card):
    source = make_card(amount="10")
    destination = make_card(amount="100")
    service.redeem(code=destination.code, order_id="o1")
    with pytest.raises(InsufficientBalanceError):
        service.transfer(from_code=source.code, to_code=destination.code, amount="10.01")


def test_transfer_beyond_the_destinations_original_amount_is_refused(service, make_card):
    source = make_card(amount="100")
    destination = make_card(amount="50")
    service.redeem(code=destination.code, order_id="o1", amount="20")
    with pytest.raises(TransferExceedsCapacityError) as info:
        service.transfer(from_code=source.code, to_code=destination.code, amount="20.01")
    assert info.value.extra["room"] == "20.00"


def test_transfer_to_the_same_card_is_refused(service, card):
    with pytest.raises(SameCardTransferError):
        service.transfer(from_code=card.code, to_code=card.code.lower(), amount="1")


def test_transfer_with_an_unknown_destination_is_invalid(service, card):
    with pytest.raises(InvalidCodeError) as info:
        service.transfer(from_code=card.code, to_code=service.generator.generate(), amount="1")
    assert info.value.extra["side"] == "to"


def test_transfer_retried_with_its_key_moves_money_once(service, make_card):
    source, destination = make_card(amount="100"), make_card(amount="100")
    service.redeem(code=destination.code, order_id="o1", amount="50")
    first = service.transfer(
        from_code=source.code, to_code=destination.code, amount="5", idempotency_key="t1"
    )
    again = service.transfer(
        from_code=source.code, to_code=destination.code, amount="5", idempotency_key="t1"
    )
    assert again.replayed and again.transfer_id == first.transfer_id
    assert GiftCard.objects.get(pk=source.pk).balance == Decimal("95.00")


# --- void -----------------------------------------------------------------------------


def test_void_zeroes_the_balance_with_the_actor_in_the_ledger(service, card):
    assert service.void(code=card.code, reason="Reported stolen", admin_id="staff-7") is True
    card.refresh_from_db()
    assert (card.status, card.balance, card.voided_by) == ("voided", 0, "staff-7")
    assert card.void_reason == "Reported stolen" and card.voided_at is not None
    row = card.transactions.get(transaction_type="void")
    assert (row.amount, row.actor_id) == (Decimal("-100"), "staff-7")
    assert OutboxEvent.objects.filter(topic="gift_card.voided").count() == 1


def test_voiding_twice_returns_false_and_writes_nothing(service, card):
    service.void(code=card.code, reason="r", admin_id="a")
    assert service.void(code=card.code, reason="r", admin_id="a") is False
    assert card.transactions.filter(transaction_type="void").count() == 1


def test_void_requires_a_reason(service, card):
    with pytest.raises(ValidationError):
        service.void(code=card.code, reason="", admin_id="a")
    assert GiftCard.objects.get(pk=card.pk).status == "active"


# --- expiry ---------------------------------------------------------------------------


def test_expire_overdue_writes_off_the_balance(clocked_service, clock):
    overdue = clocked_service.create(
        amount="30", purchaser_id="u", expires_at=clock.now + timedelta(1)
    )
    fresh = clocked_service.create(amount="30", purchaser_id="u")
    clock.advance(days=2)
    assert clocked_service.expire_overdue() == 1
    overdue.refresh_from_db()
    assert (overdue.status, overdue.balance) == ("expired", 0)
    row = overdue.transactions.get(transaction_type="expiration")
    assert row.metadata == {"forfeited": "30.00"}
    assert GiftCard.objects.get(pk=fresh.pk).status == "active"
    assert OutboxEvent.objects.filter(topic="gift_card.expired").count() == 1


def test_expire_overdue_is_idempotent(clocked_service, clock):
    clocked_service.create(amount="30", purchaser_id="u", expires_at=clock.now + timedelta(1))
    clock.advance(days=2)
    assert clocked_service.expire_overdue() == 1
    assert clocked_service.expire_overdue() == 0


def test_expire_overdue_works_in_batches(clocked_service, clock):
    for _ in range(5):
        clocked_service.create(amount="1", purchaser_id="u", expires_at=clock.now + timedelta(1))
    clock.advance(days=2)
    assert clocked_service.expire_overdue(batch_size=2) == 5


def test_extend_expiry_moves_the_date_and_records_the_actor(service, card):
    new_expiry = card.expires_at + timedelta(days=90)
    service.extend_expiry(gift_card_id=card.pk, expires_at=new_expiry, admin_id="staff-2")
    card.refresh_from_db()
    assert card.expires_at == new_expiry
    row = card.transactions.get(transaction_type="expiry_extended")
    assert (row.amount, row.actor_id) == (0, "staff-2")


def test_extend_expiry_cannot_shorten(service, card):
    with pytest.raises(InvalidExpiryError):
        service.extend_expiry(
            gift_card_id=card.pk, expires_at=card.expires_at - timedelta(1), admin_id="s"
        )


# --- bulk -----------------------------------------------------------------------------


def test_bulk_create_issues_cards_with_prefix_and_ledger(service):
    cards = service.bulk_create(count=25, amount="5.00", prefix="SUMMER")
    assert len(cards) == 25
    assert all(c.code.startswith("SUMMER-") for c in cards)
    assert len({c.code for c in cards}) == 25
    assert Txn.objects.filter(transaction_type="creation").count() == 25
    assert set(GiftCard.objects.values_list("purchaser_id", flat=True)) == {"promotion:SUMMER"}
    assert OutboxEvent.objects.filter(topic="gift_card.created").count() == 25


def test_bulk_codes_redeem(service):
    [card] = service.bulk_create(count=1, amount="5.00")
    assert service.redeem(code=card.code, order_id="o1").redeemed_amount == Decimal("5.00")


@pytest.mark.parametrize("count", [0, -1, 10_001, "5", True])
def test_bulk_create_refuses_bad_counts(service, count):
    with pytest.raises(BulkLimitError):
        service.bulk_create(count=count, amount="5")
    assert not GiftCard.objects.exists()


def test_default_key_treats_every_spelling_of_the_amount_as_one_request(service, card):
    first = service.redeem(code=card.code, order_id="o1", amount="10")
    again = service.redeem(code=card.code, order_id="o1", amount=Decimal("10.00"))
    assert again.replayed and again.redemption_id == first.redemption_id


def test_replay_returns_the_first_result_even_after_the_card_changed(service, card):
    first = service.redeem(code=card.code, order_id="o1", amount="100")
    service.void(code=card.code, reason="r", admin_id="a")
    again = service.redeem(code=card.code, order_id="o1", amount="100")
    assert again.replayed and again.remaining_balance == first.remaining_balance == 0


def test_refund_that_would_overfill_a_card_is_refused(service, make_card):
    card, donor = make_card(amount="50"), make_card(amount="50")
    redemption = service.redeem(code=card.code, order_id="o1", amount="50")
    service.transfer(from_code=donor.code, to_code=card.code, amount="40")
    with pytest.raises(TransferExceedsCapacityError):
        service.refund_to_card(redemption_id=redemption.redemption_id, amount="20")
    assert (
        service.refund_to_card(redemption_id=redemption.redemption_id, amount="10").new_balance
        == 50
    )


def test_extend_expiry_of_an_expired_card_is_refused(clocked_service, clock):
    card = clocked_service.create(amount="5", purchaser_id="u", expires_at=clock.now + timedelta(1))
    clock.advance(days=2)
    clocked_service.expire_overdue()
    with pytest.raises(ExpiredCardError):
        clocked_service.extend_expiry(
            gift_card_id=card.pk, expires_at=clock.now + timedelta(days=30), admin_id="s"
        )


def test_void_by_id_of_unknown_card_is_invalid(service):
    with pytest.raises(InvalidCodeError):
        service.void_card(gift_card_id=999_999, reason="r", admin_id="a")
