"""Unit: RefundCalculator components, one rule per test."""

from decimal import Decimal

import pytest

from returns.calculator import RefundCalculator, allocate
from returns.models import ReturnRequest
from tests.returns.conftest import make_order

pytestmark = pytest.mark.django_db
D = Decimal


def _calc(return_id, **kwargs):
    return RefundCalculator().calculate(
        return_request=ReturnRequest.objects.get(pk=return_id), **kwargs
    )


def _receive(service, request, staff, entries):
    service.approve(return_id=request.id, refund_method="exchange", approver=staff)
    service.receive_items(
        return_id=request.id,
        items_received=[
            {"line_item_id": line, "quantity_received": q, "actual_condition": c}
            for line, q, c in entries
        ],
        receiver=staff,
    )


def test_item_total_and_tax_for_requested_units(new_return):
    # given: one of two units at 40.00, line tax 3.20
    request = new_return()
    # when
    breakdown = _calc(request.id)
    # then
    assert (breakdown.item_total, breakdown.tax_refund) == (D("40.00"), D("1.60"))
    assert breakdown.total_refund == D("41.60")


def test_no_shipping_back_for_a_partial_change_of_mind(new_return):
    # when
    breakdown = _calc(new_return(reason="no_longer_needed").id)
    # then
    assert breakdown.shipping_refund == D("0")


@pytest.mark.parametrize("reason", ["defective", "wrong_item", "not_as_described"])
def test_shipping_comes_back_when_the_retailer_is_at_fault(new_return, reason):
    # when
    breakdown = _calc(new_return(reason=reason).id)
    # then
    assert breakdown.shipping_refund == D("7.00")
    assert breakdown.total_refund == D("48.60")


def test_shipping_comes_back_when_the_whole_order_does(new_return):
    # given
    request = new_return(
        items=[{"line_item_id": "L1", "quantity": 2}, {"line_item_id": "L2", "quantity": 1}]
    )
    # when
    breakdown = _calc(request.id)
    # then
    assert breakdown.shipping_refund == D("7.00")


def test_restocking_fee_percent_for_a_change_of_mind(new_return):
    # when
    breakdown = _calc(new_return().id, restocking_fee_percent=D("15"))
    # then
    assert breakdown.restocking_fee == D("6.00")
    assert breakdown.total_refund == D("35.60")


def test_no_restocking_fee_when_the_retailer_is_at_fault(new_return):
    # when
    breakdown = _calc(new_return(reason="defective").id, restocking_fee_percent=D("15"))
    # then
    assert breakdown.restocking_fee == D("0")


def test_a_fixed_restocking_fee_overrides_the_percent(new_return):
    # when
    breakdown = _calc(
        new_return().id, restocking_fee_percent=D("15"), restocking_fee_amount=D("2.50")
    )
    # then
    assert breakdown.restocking_fee == D("2.50")


def test_restocking_fee_never_exceeds_the_items(new_return):
    # when
    breakdown = _calc(new_return().id, restocking_fee_amount=D("500.00"))
    # then
    assert breakdown.restocking_fee == D("40.00")
    assert breakdown.total_refund == D("1.60")


def test_damaged_items_lose_the_configured_percent(service, new_return, staff):
    # given
    request = new_return()
    _receive(service, request, staff, [("L1", 1, "damaged")])
    # when
    breakdown = _calc(request.id, condition_adjustments={"damaged": D("50")})
    # then
    assert breakdown.condition_adjustments == D("20.00")
    assert breakdown.total_refund == D("21.60")


def test_condition_is_not_held_against_a_defective_return(service, new_return, staff):
    # given
    request = new_return(reason="defective")
    _receive(service, request, staff, [("L1", 1, "unsellable")])
    # when
    breakdown = _calc(request.id, condition_adjustments={"unsellable": D("100")})
    # then
    assert breakdown.condition_adjustments == D("0")
    assert breakdown.total_refund == D("48.60")


def test_after_receipt_only_received_units_count(service, new_return, staff):
    # given: two units asked for, one arrived
    request = new_return(items=[{"line_item_id": "L1", "quantity": 2}])
    _receive(service, request, staff, [("L1", 1, "sellable")])
    # when
    breakdown = _calc(request.id)
    # then
    assert breakdown.item_total == D("40.00")
    assert breakdown.lines[0].quantity == 1


def test_a_staff_total_becomes_an_adjustment_line(new_return):
    # given
    request = new_return(
        items=[{"line_item_id": "L1", "quantity": 1}, {"line_item_id": "L2", "quantity": 1}]
    )
    calculator = RefundCalculator()
    breakdown = _calc(request.id)
    # when
    adjusted = calculator.with_total(breakdown, total=D("50.00"))
    # then
    assert adjusted.adjustment == D("50.00") - breakdown.total_refund
    assert sum(line.total_amount for line in adjusted.lines) == D("50.00")
    assert sum(line.adjustment_amount for line in adjusted.lines) == adjusted.adjustment


def test_allocate_puts_the_remainder_on_the_last_share():
    # when
    shares = allocate(D("10.00"), [D("1"), D("1"), D("1")], "USD")
    # then
    assert shares == [D("3.33"), D("3.33"), D("3.34")]


def test_allocate_with_zero_weights_gives_all_to_the_last():
    # when
    shares = allocate(D("0.05"), [D("0"), D("0")], "USD")
    # then
    assert shares == [D("0.00"), D("0.05")]


def test_returned_units_are_scoped_to_this_order(service):
    # given: another order's return of a same-named line must not count
    other = make_order(external_id="other-1")
    mine = make_order(external_id="mine-1")
    service.initiate(
        order_id=other.external_id, items=[{"line_item_id": "L1", "quantity": 1}], reason="other"
    )
    request = service.initiate(
        order_id=mine.external_id, items=[{"line_item_id": "L1", "quantity": 1}], reason="other"
    )
    # when
    breakdown = _calc(request.id)
    # then: the whole of `mine` comes back, so shipping does too
    assert breakdown.shipping_refund == D("7.00")
