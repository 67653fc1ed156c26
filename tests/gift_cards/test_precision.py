"""Financial precision: Decimal only, currency minor units, rounding, complete audit trail."""

import itertools
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.db.models import Sum

from core.models import OutboxEvent
from gift_cards.errors import InvalidAmountError
from gift_cards.models import GiftCard
from gift_cards.money import as_currency
from gift_cards.selectors import gift_card_ledger_drift, gift_card_liability_by_currency

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("amount", [10.5, 0.1, 1e2])
def test_floats_are_refused_everywhere(service, card, make_card, amount):
    with pytest.raises(InvalidAmountError):
        service.create(amount=amount, purchaser_id="u")
    with pytest.raises(InvalidAmountError):
        service.redeem(code=card.code, order_id="o", amount=amount)
    other = make_card(amount="100")
    service.redeem(code=other.code, order_id="o", amount="50")
    with pytest.raises(InvalidAmountError):
        service.transfer(from_code=card.code, to_code=other.code, amount=amount)


def test_three_dimes_spend_exactly_thirty_cents(service, make_card):
    # 0.1 + 0.1 + 0.1 != 0.3 in binary floating point; in Decimal it is exact
    card = make_card(amount="0.30")
    for n in range(3):
        result = service.redeem(code=card.code, order_id=f"o{n}", amount="0.10")
    assert result.remaining_balance == Decimal("0.00")
    assert GiftCard.objects.get(pk=card.pk).status == "fully_redeemed"


def test_a_hundred_one_cent_redemptions_empty_a_dollar(service, make_card):
    card = make_card(amount="1.00")
    for n in range(100):
        service.redeem(code=card.code, order_id=f"o{n}", amount="0.01")
    card.refresh_from_db()
    assert card.current_balance == 0
    assert card.transactions.aggregate(s=Sum("amount"))["s"] == 0


def test_amounts_with_more_decimals_than_the_currency_are_refused_not_rounded(service, card):
    with pytest.raises(InvalidAmountError):
        service.create(amount="10.005", currency="USD", purchaser_id="u")
    with pytest.raises(InvalidAmountError):
        service.redeem(code=card.code, order_id="o", amount="0.001")
    assert GiftCard.objects.get(pk=card.pk).balance == Decimal("100.00")


def test_zero_decimal_currency_jpy(service):
    with pytest.raises(InvalidAmountError):
        service.create(amount="500.5", currency="JPY", purchaser_id="u")
    card = service.create(amount="5000", currency="JPY", purchaser_id="u")
    result = service.redeem(code=card.code, order_id="o", amount="1234")
    assert result.remaining_balance == Decimal("3766")
    assert result.remaining_balance.as_tuple().exponent == 0


def test_three_decimal_currency_kwd(service):
    card = service.create(amount="10.125", currency="KWD", purchaser_id="u")
    result = service.redeem(code=card.code, order_id="o", amount="0.001")
    assert result.remaining_balance == Decimal("10.124")
    assert result.remaining_balance.as_tuple().exponent == -3
    with pytest.raises(InvalidAmountError):
        service.redeem(code=card.code, order_id="o2", amount="0.0005")


@pytest.mark.parametrize("spelling", ["10", "10.0", "10.00", Decimal("10.000"), 10])
def test_every_spelling_of_an_amount_is_the_same_money(service, spelling):
    card = service.create(amount=spelling, purchaser_id="u")
    assert card.original == Decimal("10.00")
    assert str(card.original) == "10.00"


def test_results_and_events_carry_the_currency_precision(service, card):
    result = service.redeem(code=card.code, order_id="o", amount="33.3")
    assert str(result.redeemed_amount) == "33.30"
    assert str(result.remaining_balance) == "66.70"
    payload = OutboxEvent.objects.get(topic="gift_card.redeemed").payload
    assert (payload["amount"], payload["balance"]) == ("33.30", "66.70")


def test_rounding_to_the_currency_is_half_even_and_consistent():
    assert as_currency(Decimal("2.345"), "USD") == Decimal("2.34")
    assert as_currency(Decimal("2.355"), "USD") == Decimal("2.36")
    assert as_currency(Decimal("2.5"), "JPY") == Decimal("2")
    assert as_currency(Decimal("3.5"), "JPY") == Decimal("4")


def test_audit_trail_is_complete_and_chained_after_every_kind_of_change(
    service, make_card, clocked_service, clock
):
    # given every operation the service offers
    a, b = make_card(amount="100"), make_card(amount="100")
    r1 = service.redeem(code=a.code, order_id="o1", amount="40")
    service.redeem(code=b.code, order_id="o2", amount="60")
    service.refund_to_card(redemption_id=r1.redemption_id, amount="15")
    service.transfer(from_code=a.code, to_code=b.code, amount="25")
    service.void(code=b.code, reason="r", admin_id="staff")
    c = clocked_service.create(amount="9.99", purchaser_id="u")
    clock.advance(days=400)
    clocked_service.expire_overdue()
    # then every card's balance is its ledger's sum and every row continues the previous one
    assert gift_card_ledger_drift() == []
    for card in GiftCard.objects.all():
        rows = list(card.transactions.order_by("id"))
        assert rows[0].transaction_type == "creation"
        assert rows[0].amount == card.original_amount
        for previous, row in itertools.pairwise(rows):
            assert row.balance_before == previous.balance_after
        assert rows[-1].balance_after == card.current_balance
    assert [t.transaction_type for t in a.transactions.order_by("id")] == [
        "creation",
        "redemption",
        "refund",
        "transfer_out",
        "expiration",
    ]
    assert GiftCard.objects.get(pk=c.pk).transactions.last().transaction_type == "expiration"


def test_a_failed_event_write_rolls_back_the_balance_and_the_ledger(service, card):
    # given the outbox table refuses inserts (a database failure mid-transaction)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION gc_test_refuse() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'outbox down' USING ERRCODE = 'integrity_constraint_violation'; "
            "END; $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER gc_test_refuse BEFORE INSERT ON core_outboxevent "
            "FOR EACH ROW EXECUTE FUNCTION gc_test_refuse()"
        )
    # when
    with pytest.raises(IntegrityError):
        service.redeem(code=card.code, order_id="o", amount="10")
    # then nothing of the redemption remains
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER gc_test_refuse ON core_outboxevent")
        cursor.execute("DROP FUNCTION gc_test_refuse()")
    card.refresh_from_db()
    assert card.current_balance == Decimal("100")
    assert card.transactions.filter(transaction_type="redemption").count() == 0


def test_liability_is_summed_per_currency_never_mixed(service, make_card):
    make_card(amount="10.10")
    make_card(amount="0.20")
    make_card(amount="1000", currency="JPY")
    kwd = make_card(amount="1.005", currency="KWD")
    service.redeem(code=kwd.code, order_id="o", amount="0.002")
    rows = {row["currency"]: row for row in gift_card_liability_by_currency()}
    assert rows["USD"]["outstanding"] == Decimal("10.30")
    assert rows["JPY"]["outstanding"] == Decimal("1000")
    assert rows["KWD"]["outstanding"] == Decimal("1.003")
    assert rows["USD"]["cards"] == 2
