"""Unit: reads — liability, the liability report, ledger drift, lookups by code."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from gift_cards.errors import InvalidCodeError
from gift_cards.models import GiftCard, GiftCardTransaction
from gift_cards.selectors import (
    gift_card_get_by_code,
    gift_card_ledger_drift,
    gift_card_liability_report,
    gift_card_redemptions_for_order,
)

pytestmark = pytest.mark.django_db


def test_get_by_code_finds_the_card_and_refuses_others(card, service):
    assert gift_card_get_by_code(code=card.code.lower()).pk == card.pk
    with pytest.raises(InvalidCodeError):
        gift_card_get_by_code(code=service.generator.generate())
    with pytest.raises(InvalidCodeError):
        gift_card_get_by_code(code="not a code")


def test_liability_report_groups_by_currency_age_and_expiry_month(make_card, service):
    now = timezone.now()
    fresh = make_card(amount="10", expires_at=now + timedelta(days=40))
    old = make_card(amount="20", expires_at=now + timedelta(days=40))
    GiftCard.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=200))
    make_card(amount="30", currency="EUR", expires_at=now + timedelta(days=300))
    spent = make_card(amount="5")
    service.redeem(code=spent.code, order_id="o")  # empty cards owe nothing
    voided = make_card(amount="7")
    service.void(code=voided.code, reason="r", admin_id="a")
    rows = gift_card_liability_report(now=now)
    month = (now + timedelta(days=40)).strftime("%Y-%m")
    summary = {(r.currency, r.age, r.expiry_month): (r.cards, r.outstanding) for r in rows}
    assert summary[("USD", "0-30 days", month)] == (1, Decimal("10.00"))
    assert summary[("USD", "181-365 days", month)] == (1, Decimal("20.00"))
    assert sum(r.outstanding for r in rows if r.currency == "EUR") == Decimal("30.00")
    assert sum(r.cards for r in rows) == 3
    assert fresh.pk  # issued through the service like the others


def test_drift_detects_a_balance_changed_outside_the_ledger(make_card):
    good, bad = make_card(amount="10"), make_card(amount="10")
    GiftCard.objects.filter(pk=bad.pk).update(current_balance=Decimal("9.99"))
    drift = gift_card_ledger_drift()
    assert [d.gift_card_id for d in drift] == [bad.pk]
    assert good.pk not in {d.gift_card_id for d in drift}


def test_drift_detects_a_break_in_the_ledger_chain(make_card):
    card = make_card(amount="10")
    # a row that adds up on its own but does not continue from the previous balance
    GiftCardTransaction.objects.create(
        gift_card=card,
        transaction_type="redemption",
        amount=Decimal("-1"),
        balance_before=Decimal("5"),
        balance_after=Decimal("4"),
    )
    problems = [d.problem for d in gift_card_ledger_drift() if d.gift_card_id == card.pk]
    assert any("previous row ended at 10" in p for p in problems)
    assert any("ledger sum" in p for p in problems)


def test_redemptions_for_order_newest_first_and_by_currency(service, make_card):
    usd, eur = make_card(amount="10"), make_card(amount="10", currency="EUR")
    first = service.redeem(code=usd.code, order_id="O", amount="1")
    second = service.redeem(code=usd.code, order_id="O", amount="2")
    service.redeem(code=eur.code, order_id="O", amount="3")
    usd_rows = gift_card_redemptions_for_order(order_id="O", currency="USD")
    assert [str(r.public_id) for r in usd_rows] == [second.redemption_id, first.redemption_id]
    assert gift_card_redemptions_for_order(order_id="O").count() == 3
