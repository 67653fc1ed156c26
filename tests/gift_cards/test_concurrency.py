"""Concurrency: real threads, each with its own PostgreSQL connection and transaction."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum

from gift_cards.errors import (
    AlreadyRedeemedError,
    CardVoidedError,
    GiftCardError,
    InsufficientBalanceError,
    RefundExceedsRedemptionError,
)
from gift_cards.models import GiftCard, GiftCardTransaction
from gift_cards.selectors import gift_card_ledger_drift
from gift_cards.services import GiftCardService
from tests.concurrency import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)


def ledger_sum(card) -> Decimal:
    return card.transactions.aggregate(total=Sum("amount"))["total"]


def test_twenty_threads_redeeming_one_card_never_overspend(service, make_card):
    # given a 100.00 card and 20 clients each wanting 10.00
    card = make_card(amount="100.00")
    jobs = [
        lambda n=n: service.redeem(code=card.code, order_id=f"order-{n}", amount="10.00")
        for n in range(20)
    ]
    # when
    results, errors = run_in_threads(*jobs)
    # then exactly ten succeed and the others are refused for lack of balance
    succeeded = [r for r in results if r is not None]
    assert len(succeeded) == 10
    assert all(isinstance(e, InsufficientBalanceError | AlreadyRedeemedError) for e in errors if e)
    card.refresh_from_db()
    assert card.current_balance == 0
    assert ledger_sum(card) == 0
    assert card.transactions.filter(transaction_type="redemption").count() == 10
    assert sorted(r.remaining_balance for r in succeeded) == [Decimal(n * 10) for n in range(10)]
    assert gift_card_ledger_drift() == []


def test_uneven_concurrent_redemptions_spend_at_most_the_balance(service, make_card):
    card = make_card(amount="50.00")
    amounts = [Decimal(f"{n}.{n:02d}") for n in range(1, 21)]  # 1.01 .. 20.20
    jobs = [
        lambda a=a, n=n: service.redeem(code=card.code, order_id=f"o{n}", amount=a)
        for n, a in enumerate(amounts)
    ]
    results, errors = run_in_threads(*jobs)
    spent = sum(r.redeemed_amount for r in results if r)
    card.refresh_from_db()
    assert spent <= Decimal("50.00")
    assert card.current_balance == Decimal("50.00") - spent == ledger_sum(card)
    assert all(isinstance(e, GiftCardError) for e in errors if e)


def test_the_same_redeem_retried_concurrently_redeems_once(service, make_card):
    card = make_card(amount="100.00")
    jobs = [
        lambda: service.redeem(code=card.code, order_id="o1", amount="30", idempotency_key="k")
        for _ in range(10)
    ]
    results, errors = run_in_threads(*jobs)
    assert errors == [None] * 10
    assert len({r.redemption_id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    card.refresh_from_db()
    assert card.current_balance == Decimal("70.00")


def test_opposite_transfers_in_parallel_finish_without_deadlock(service, make_card):
    # given two half-spent cards
    a, b = make_card(amount="100"), make_card(amount="100")
    service.redeem(code=a.code, order_id="oa", amount="50")
    service.redeem(code=b.code, order_id="ob", amount="50")
    jobs = []
    for _ in range(8):
        jobs.append(lambda: service.transfer(from_code=a.code, to_code=b.code, amount="1"))
        jobs.append(lambda: service.transfer(from_code=b.code, to_code=a.code, amount="1"))
    # when
    _results, errors = run_in_threads(*jobs)
    # then no deadlock, every transfer succeeded and the money is conserved
    assert errors == [None] * 16
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.current_balance + b.current_balance == Decimal("100")
    assert a.current_balance == Decimal("50") == b.current_balance
    assert gift_card_ledger_drift() == []


def test_transfers_around_a_ring_do_not_deadlock(service, make_card):
    cards = [make_card(amount="100") for _ in range(3)]
    for card in cards:
        service.redeem(code=card.code, order_id=f"o{card.pk}", amount="50")
    jobs = [
        lambda i=i: service.transfer(
            from_code=cards[i % 3].code, to_code=cards[(i + 1) % 3].code, amount="2"
        )
        for i in range(12)
    ]
    _results, errors = run_in_threads(*jobs)
    assert errors == [None] * 12
    assert sum(GiftCard.objects.values_list("current_balance", flat=True)) == Decimal("150")


def test_concurrent_refunds_never_exceed_the_redemption(service, make_card):
    card = make_card(amount="100")
    redemption = service.redeem(code=card.code, order_id="o1", amount="20")
    jobs = [
        lambda n=n: service.refund_to_card(
            redemption_id=redemption.redemption_id, amount="5", idempotency_key=f"r{n}"
        )
        for n in range(10)
    ]
    results, errors = run_in_threads(*jobs)
    assert sum(r is not None for r in results) == 4
    assert all(isinstance(e, RefundExceedsRedemptionError) for e in errors if e)
    card.refresh_from_db()
    assert card.current_balance == Decimal("100") == ledger_sum(card)


def test_void_racing_redemptions_leaves_a_consistent_voided_card(service, make_card):
    card = make_card(amount="100")
    jobs = [lambda: service.void(code=card.code, reason="fraud", admin_id="staff")]
    jobs += [
        lambda n=n: service.redeem(code=card.code, order_id=f"o{n}", amount="5") for n in range(9)
    ]
    results, errors = run_in_threads(*jobs)
    assert results[0] is True
    assert all(isinstance(e, CardVoidedError) for e in errors if e)
    card.refresh_from_db()
    assert (card.status, card.current_balance, ledger_sum(card)) == ("voided", 0, 0)
    redeemed = card.transactions.filter(transaction_type="redemption").count()
    void_row = card.transactions.get(transaction_type="void")
    assert void_row.amount == Decimal("-100") + 5 * redeemed


def test_redemptions_racing_a_transfer_out_never_overspend(service, make_card):
    source, destination = make_card(amount="30"), make_card(amount="100")
    service.redeem(code=destination.code, order_id="o", amount="100")
    jobs = [lambda: service.transfer(from_code=source.code, to_code=destination.code, amount="20")]
    jobs += [
        lambda n=n: service.redeem(code=source.code, order_id=f"o{n}", amount="10")
        for n in range(5)
    ]
    results, errors = run_in_threads(*jobs)
    assert all(isinstance(e, GiftCardError) for e in errors if e)
    source.refresh_from_db()
    assert source.current_balance >= 0
    moved = Decimal("20") if results[0] else 0
    redeemed = 10 * sum(r is not None for r in results[1:])
    assert moved + redeemed + source.current_balance == Decimal("30")
    assert ledger_sum(source) == source.current_balance


def test_two_expiry_jobs_at_once_expire_each_card_once(make_card):
    for _ in range(30):
        make_card(amount="5")
    later = GiftCardService(clock=lambda: GiftCard.objects.first().expires_at + timedelta(1))
    results, errors = run_in_threads(
        lambda: later.expire_overdue(batch_size=7), lambda: later.expire_overdue(batch_size=7)
    )
    assert errors == [None, None]
    assert sum(results) == 30
    assert GiftCardTransaction.objects.filter(transaction_type="expiration").count() == 30
    assert set(GiftCard.objects.values_list("status", flat=True)) == {"expired"}


def test_redemptions_on_different_cards_proceed_in_parallel(service, make_card):
    cards = [make_card(amount="10") for _ in range(8)]
    jobs = [
        lambda c=c, n=n, i=i: service.redeem(code=c.code, order_id=f"o{n}-{i}", amount="1")
        for n, c in enumerate(cards)
        for i in range(3)
    ]
    _results, errors = run_in_threads(*jobs)
    assert errors == [None] * 24
    balances = Counter(GiftCard.objects.values_list("current_balance", flat=True))
    assert balances == {Decimal("7.000"): 8}


def test_concurrent_bulk_batches_never_share_a_code(service):
    results, errors = run_in_threads(
        lambda: service.bulk_create(count=300, amount="1"),
        lambda: service.bulk_create(count=300, amount="1"),
    )
    assert errors == [None, None]
    all_codes = [c.code for batch in results for c in batch]
    assert len(set(all_codes)) == 600
    assert GiftCard.objects.count() == 600
