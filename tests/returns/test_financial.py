"""Financial precision: Decimal throughout, proportional tax, exact sums, currency units."""

import random
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from returns.calculator import RefundCalculator
from returns.models import ReturnRequest
from tests.returns.conftest import make_order

pytestmark = pytest.mark.django_db
D = Decimal


def _breakdown(return_id, **kwargs):
    return RefundCalculator().calculate(
        return_request=ReturnRequest.objects.get(pk=return_id), **kwargs
    )


def _assert_lines_sum(breakdown):
    lines = breakdown.lines
    assert sum((line.total_amount for line in lines), D(0)) == breakdown.total_refund
    assert sum((line.item_amount for line in lines), D(0)) == breakdown.item_total
    assert sum((line.tax_amount for line in lines), D(0)) == breakdown.tax_refund
    assert sum((line.shipping_amount for line in lines), D(0)) == breakdown.shipping_refund
    assert sum((line.restocking_fee_amount for line in lines), D(0)) == breakdown.restocking_fee


def test_every_amount_is_a_decimal(new_return):
    # when
    breakdown = _breakdown(new_return(reason="defective").id, restocking_fee_percent=D("10"))
    # then
    values = [v for v in breakdown.__dict__.values() if not isinstance(v, (str, tuple))]
    values += [
        v
        for line in breakdown.lines
        for v in line.__dict__.values()
        if not isinstance(v, (str, int))
    ]
    assert values and all(isinstance(v, Decimal) for v in values)


def test_tax_in_thirds_rounds_and_a_full_return_gets_all_of_it(service):
    # given: tax 1.00 on three units
    order = make_order([{"unit_price_amount": "10.00", "tax_amount": "1.00", "quantity": 3}])
    one = service.initiate(
        order_id=order.external_id, items=[{"line_item_id": "L1", "quantity": 1}], reason="other"
    )
    # when
    first = _breakdown(one.id)
    # then
    assert first.tax_refund == D("0.33")
    service.cancel(return_id=one.id)
    everything = service.initiate(
        order_id=order.external_id, items=[{"line_item_id": "L1", "quantity": 3}], reason="other"
    )
    assert _breakdown(everything.id).tax_refund == D("1.00")


def test_multi_item_lines_sum_exactly_to_the_total(service):
    # given: prices and taxes that do not divide evenly
    order = make_order(
        [
            {"unit_price_amount": "19.99", "tax_amount": "4.99", "quantity": 3},
            {"unit_price_amount": "0.01", "tax_amount": "0.01", "quantity": 7},
            {"unit_price_amount": "333.33", "tax_amount": "26.67", "quantity": 3},
        ],
        shipping_amount=D("9.99"),
    )
    request = service.initiate(
        order_id=order.external_id,
        items=[
            {"line_item_id": "L1", "quantity": 2},
            {"line_item_id": "L2", "quantity": 5},
            {"line_item_id": "L3", "quantity": 1},
        ],
        reason="defective",
    )
    # when
    breakdown = _breakdown(request.id)
    # then
    _assert_lines_sum(breakdown)
    assert breakdown.tax_refund == D("12.22")  # 3.3267 + 0.00714 + 8.89 = 12.2238...


def test_randomised_returns_always_sum_exactly(service):
    # given: many seeded random orders, partial quantities, fees
    rng = random.Random(20261122)
    for case in range(25):
        lines = [
            {
                "unit_price_amount": D(rng.randint(1, 99999)) / 100,
                "tax_amount": D(rng.randint(0, 9999)) / 100,
                "quantity": rng.randint(1, 7),
            }
            for _ in range(rng.randint(1, 5))
        ]
        order = make_order(
            lines, external_id=f"rand-{case}", shipping_amount=D(rng.randint(0, 2000)) / 100
        )
        items = [
            {"line_item_id": f"L{i + 1}", "quantity": rng.randint(1, spec["quantity"])}
            for i, spec in enumerate(lines)
        ]
        request = service.initiate(
            order_id=order.external_id, items=items, reason=rng.choice(["defective", "other"])
        )
        # when
        breakdown = _breakdown(request.id, restocking_fee_percent=D(rng.randint(0, 25)))
        # then
        _assert_lines_sum(breakdown)
        adjusted = RefundCalculator().with_total(
            breakdown, total=breakdown.total_refund * D("0.37")
        )
        assert sum((x.total_amount for x in adjusted.lines), D(0)) == adjusted.total_refund


def test_zero_decimal_currency_rounds_to_whole_units(service):
    # given: JPY, tax 100 on three units
    order = make_order(
        [{"unit_price_amount": "1000", "tax_amount": "100", "quantity": 3}],
        currency="JPY",
        shipping_amount=D("500"),
    )
    request = service.initiate(
        order_id=order.external_id,
        items=[{"line_item_id": "L1", "quantity": 1}],
        reason="defective",
    )
    # when
    breakdown = _breakdown(request.id)
    # then
    assert breakdown.tax_refund == D("33")
    assert breakdown.total_refund == D("1533")
    _assert_lines_sum(breakdown)


def test_tax_is_proportional_to_the_units_returned(new_return):
    # given: 2 units, line tax 3.20
    # when
    one = _breakdown(new_return(items=[{"line_item_id": "L1", "quantity": 1}]).id)
    # then
    assert one.tax_refund == D("1.60")


def test_shipping_is_refunded_once_per_order(service, order):
    # given: two defective returns from one order
    first = service.initiate(
        order_id=order.external_id,
        items=[{"line_item_id": "L1", "quantity": 1}],
        reason="defective",
    )
    second = service.initiate(
        order_id=order.external_id,
        items=[{"line_item_id": "L2", "quantity": 1}],
        reason="defective",
    )
    # when
    shipping = [
        D(ReturnRequest.objects.get(pk=r.id).refund_breakdown["shipping_refund"])
        for r in (first, second)
    ]
    # then
    assert shipping == [D("7.00"), D("0")]


def test_store_credit_bonus_rounds_half_even(service, staff):
    # given: 10% of 10.25 is 1.025, exactly half a cent
    order = make_order(
        [{"unit_price_amount": "10.25", "tax_amount": "0.00"}], shipping_amount=D("0")
    )
    request = service.initiate(
        order_id=order.external_id, items=[{"line_item_id": "L1", "quantity": 1}], reason="other"
    )
    # when
    result = service.approve(return_id=request.id, refund_method="store_credit", approver=staff)
    # then
    assert result.store_credit_bonus == D("1.02")  # 1.025 → 1.02


def test_float_money_is_refused(service, new_return, staff):
    # given
    request = new_return()
    # when / then
    with pytest.raises(ValidationError):
        service.approve(
            return_id=request.id,
            refund_method="original_payment",
            approver=staff,
            refund_amount=10.5,
        )


def test_sub_cent_overrides_are_refused(service, new_return, staff):
    # given
    request = new_return()
    # when / then
    from returns.errors import InvalidRefundAmountError

    with pytest.raises(InvalidRefundAmountError):
        service.approve(
            return_id=request.id,
            refund_method="original_payment",
            approver=staff,
            refund_amount="10.005",
        )
