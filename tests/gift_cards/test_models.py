"""Unit: model invariants enforced by the database and the append-only ledger."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from gift_cards.models import GiftCard, GiftCardTransaction

pytestmark = pytest.mark.django_db


def _raw(sql, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_balance_above_original_amount_is_refused_by_the_database(card):
    with pytest.raises(IntegrityError), transaction.atomic():
        GiftCard.objects.filter(pk=card.pk).update(current_balance=Decimal("100.01"))


def test_negative_balance_is_refused_by_the_database(card):
    with pytest.raises(IntegrityError), transaction.atomic():
        GiftCard.objects.filter(pk=card.pk).update(current_balance=Decimal("-0.01"))


def test_unknown_status_is_refused_by_the_database(card):
    with pytest.raises(IntegrityError), transaction.atomic():
        GiftCard.objects.filter(pk=card.pk).update(status="lost")


def test_ledger_row_whose_balances_do_not_add_up_is_refused(card):
    with pytest.raises(IntegrityError), transaction.atomic():
        GiftCardTransaction.objects.create(
            gift_card=card,
            transaction_type="redemption",
            amount=Decimal("-10"),
            balance_before=Decimal("100"),
            balance_after=Decimal("95"),
        )


def test_ledger_row_with_the_wrong_sign_for_its_type_is_refused(card):
    with pytest.raises(IntegrityError), transaction.atomic():
        GiftCardTransaction.objects.create(
            gift_card=card,
            transaction_type="redemption",
            amount=Decimal("10"),
            balance_before=Decimal("0"),
            balance_after=Decimal("10"),
        )


def test_ledger_rows_cannot_be_updated_through_the_model(card):
    row = card.transactions.get()
    row.amount = Decimal("1")
    with pytest.raises(TypeError):
        row.save()


def test_ledger_rows_cannot_be_deleted_through_the_model_or_queryset(card):
    with pytest.raises(TypeError):
        card.transactions.get().delete()
    with pytest.raises(TypeError):
        GiftCardTransaction.objects.all().delete()
    with pytest.raises(TypeError):
        GiftCardTransaction.objects.update(order_id="x")
    assert card.transactions.count() == 1


def test_database_trigger_refuses_raw_update_and_delete(card):
    row = card.transactions.get()
    with pytest.raises(IntegrityError, match="append-only"):
        _raw("UPDATE gift_cards_giftcardtransaction SET order_id = 'x' WHERE id = %s", [row.pk])
    with pytest.raises(IntegrityError, match="append-only"):
        _raw("DELETE FROM gift_cards_giftcardtransaction WHERE id = %s", [row.pk])
    assert card.transactions.get().order_id == ""


def test_card_with_a_ledger_cannot_be_deleted(card):
    with pytest.raises(Exception, match="protected"):
        GiftCard.objects.get(pk=card.pk).delete()


def test_idempotency_key_is_unique_per_card_and_type(service, card):
    service.redeem(code=card.code, order_id="o1", amount="1", idempotency_key="same")
    before = GiftCard.objects.get(pk=card.pk).current_balance
    with pytest.raises(IntegrityError), transaction.atomic():
        GiftCardTransaction.objects.create(
            gift_card=card,
            transaction_type="redemption",
            amount=Decimal("-1"),
            balance_before=before,
            balance_after=before - 1,
            idempotency_key="same",
        )


def test_scopes(make_card, service):
    live = make_card(amount="10")
    spent = make_card(amount="10")
    service.redeem(code=spent.code, order_id="o", amount="10")
    old = make_card(amount="10")
    GiftCard.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=1))
    assert set(GiftCard.objects.active().values_list("pk", flat=True)) == {live.pk, old.pk}
    assert set(GiftCard.objects.with_balance().values_list("pk", flat=True)) == {live.pk, old.pk}
    assert list(GiftCard.objects.expired().values_list("pk", flat=True)) == [old.pk]
    assert list(GiftCard.objects.spendable().values_list("pk", flat=True)) == [live.pk]


def test_redemptions_relation_lists_only_redemptions(service, card):
    service.redeem(code=card.code, order_id="o1", amount="1")
    service.redeem(code=card.code, order_id="o2", amount="2")
    assert sorted(r.order_id for r in GiftCard.objects.get(pk=card.pk).redemptions) == ["o1", "o2"]


def test_str_never_contains_the_code(card):
    assert card.code not in str(card)
    assert card.last_four in str(card)
