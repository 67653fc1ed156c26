"""Policy: return window from delivery, category rules, non-returnable items, quantity
limits, restocking fees, returnless threshold and store-credit bonus from settings."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from returns import errors
from returns.models import OrderLine, ReturnRequest
from returns.policy import PolicyEngine, ReturnPolicy
from returns.services import ReturnsService
from tests.returns.conftest import make_order

pytestmark = pytest.mark.django_db
D = Decimal


def _delivered(days_ago, category="apparel", **line):
    return make_order(
        [{"category": category, **line}],
        delivered_at=timezone.now() - timedelta(days=days_ago),
    )


def _initiate(order, quantity=1, line="L1", reason="other"):
    return ReturnsService().initiate(
        order_id=order.external_id,
        items=[{"line_item_id": line, "quantity": quantity}],
        reason=reason,
    )


def test_a_return_inside_the_window_is_accepted():
    # given
    order = _delivered(29)
    # when
    request = _initiate(order)
    # then
    assert request.status == "pending"


def test_a_return_after_the_window_is_refused():
    # given
    order = _delivered(31)
    # when / then
    with pytest.raises(errors.ReturnWindowExpiredError) as caught:
        _initiate(order)
    assert caught.value.status_code == 422
    assert ReturnRequest.objects.count() == 0


def test_the_window_closes_at_the_exact_moment():
    # given
    order = _delivered(0)
    engine_before = PolicyEngine(now=order.delivered_at + timedelta(days=30) - timedelta(seconds=1))
    engine_after = PolicyEngine(now=order.delivered_at + timedelta(days=30, seconds=1))
    line = order.lines.get()
    # when / then
    assert engine_before.check_item(line_item=line, order=order).returnable
    assert engine_after.check_item(line_item=line, order=order).reason == "return_window_expired"


def test_days_remaining_counts_down_and_goes_negative():
    # given
    order = _delivered(0)
    at = order.delivered_at
    # when / then
    assert (
        PolicyEngine(now=at + timedelta(days=10, hours=1)).return_window_remaining(order=order)
        == 19
    )
    assert PolicyEngine(now=at + timedelta(days=32)).return_window_remaining(order=order) == -2


def test_an_undelivered_order_cannot_be_returned_yet():
    # given
    order = make_order([{}], delivered_at=None)
    # when / then
    with pytest.raises(errors.ItemNotReturnableError) as caught:
        _initiate(order)
    assert caught.value.extra["reason"] == "not_delivered"
    assert PolicyEngine().return_window_remaining(order=order) == 30


def test_a_category_with_a_shorter_window_expires_first():
    # given: electronics have 15 days, apparel 30
    order = make_order(
        [{"category": "electronics"}, {"category": "apparel"}],
        delivered_at=timezone.now() - timedelta(days=20),
    )
    # when / then
    with pytest.raises(errors.ReturnWindowExpiredError):
        _initiate(order, line="L1")
    assert _initiate(order, line="L2").status == "pending"


def test_a_category_with_a_longer_window_stays_open():
    # given: furniture has 60 days
    order = _delivered(45, category="furniture")
    # when
    request = _initiate(order)
    # then
    assert request.status == "pending"


@pytest.mark.parametrize("category", ["gift_cards", "final_sale", "perishables"])
def test_non_returnable_categories_are_refused(category):
    # given
    order = _delivered(1, category=category)
    # when / then
    with pytest.raises(errors.ItemNotReturnableError) as caught:
        _initiate(order)
    assert caught.value.extra["reason"] == "non_returnable_category"


def test_non_returnable_categories_come_from_settings(settings):
    # given
    settings.RETURNS_NON_RETURNABLE_CATEGORIES = ["swimwear"]
    order = make_order([{"category": "swimwear"}, {"category": "final_sale"}])
    # when / then
    with pytest.raises(errors.ItemNotReturnableError):
        _initiate(order, line="L1")
    assert _initiate(order, line="L2").status == "pending"


def test_quantity_is_limited_to_bought_minus_already_returned():
    # given: 3 bought, 2 already on a return
    order = _delivered(1, quantity=3)
    _initiate(order, quantity=2)
    # when / then
    with pytest.raises(errors.InvalidQuantityError) as caught:
        _initiate(order, quantity=2)
    assert caught.value.extra["returnable_quantity"] == 1
    assert _initiate(order, quantity=1).status == "pending"


def test_a_fully_returned_line_is_no_longer_eligible():
    # given
    order = _delivered(1, quantity=1)
    _initiate(order)
    # when
    verdict = PolicyEngine().check_item(line_item=OrderLine.objects.get(order=order), order=order)
    # then
    assert (verdict.returnable, verdict.reason) == (False, "already_returned")


def test_rejected_and_cancelled_returns_release_their_quantity(staff):
    # given
    order = _delivered(1, quantity=1)
    service = ReturnsService()
    first = _initiate(order)
    service.reject(return_id=first.id, reason="no photos", rejector=staff)
    second = _initiate(order)
    service.cancel(return_id=second.id)
    # when
    third = _initiate(order)
    # then
    assert third.status == "pending"


def test_restocking_fee_percent_comes_from_settings(settings, staff):
    # given
    settings.RETURNS_RESTOCKING_FEE_PERCENT = "20"
    order = _delivered(1, unit_price_amount="50.00", tax_amount="0.00", quantity=2)
    # when
    request = _initiate(order)
    # then
    assert request.estimated_refund == D("40.00")


def test_restocking_fee_set_at_approval_replaces_the_policy(settings, staff):
    # given
    settings.RETURNS_RESTOCKING_FEE_PERCENT = "20"
    order = _delivered(1, unit_price_amount="50.00", tax_amount="0.00", quantity=2)
    request = _initiate(order)
    # when
    result = ReturnsService().approve(
        return_id=request.id,
        refund_method="original_payment",
        approver=staff,
        restocking_fee="5.00",
    )
    # then
    assert result.estimated_refund == D("45.00")


def test_the_returnless_threshold_is_configurable(settings):
    # given: 8.00 is above the default 5.00 threshold but below 10.00
    order_a = _delivered(1, unit_price_amount="8.00", tax_amount="0.00")
    order_b = _delivered(1, unit_price_amount="8.00", tax_amount="0.00")
    # when
    kept_default = _initiate(order_a)
    settings.RETURNS_RETURNLESS_THRESHOLD_AMOUNT = "10.00"
    kept_raised = _initiate(order_b)
    # then
    assert (kept_default.returnless, kept_raised.returnless) == (False, True)


def test_store_credit_bonus_percent_is_configurable(settings, staff):
    # given
    settings.RETURNS_STORE_CREDIT_BONUS_PERCENT = "25"
    order = _delivered(1, unit_price_amount="40.00", tax_amount="0.00", quantity=2)
    request = _initiate(order)
    # when
    result = ReturnsService().approve(
        return_id=request.id, refund_method="store_credit", approver=staff
    )
    # then
    assert result.store_credit_bonus == D("10.00")


def test_policy_reads_category_windows_from_settings(settings):
    # given
    settings.RETURNS_CATEGORY_WINDOW_DAYS = {"books": 7}
    # when
    policy = ReturnPolicy.from_settings()
    # then
    assert (policy.window_days_for("books"), policy.window_days_for("apparel")) == (7, 30)
