"""Unit: ReturnsService decisions and refusals, one behaviour per test."""

import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from core.models import OutboxEvent
from returns import errors
from returns.models import ReturnAuditLog, ReturnItem, ReturnRequest
from tests.returns.conftest import make_order

pytestmark = pytest.mark.django_db
Status = ReturnRequest.Status


def _receive(service, request, staff, quantity=1, condition="sellable", line="L1"):
    return service.receive_items(
        return_id=request.id,
        items_received=[
            {"line_item_id": line, "quantity_received": quantity, "actual_condition": condition}
        ],
        receiver=staff,
    )


@pytest.mark.parametrize(
    "reason", ["defective", "wrong_item", "not_as_described", "no_longer_needed", "other"]
)
def test_initiate_accepts_every_reason(new_return, reason):
    # given / when
    request = new_return(reason=reason)
    # then
    saved = ReturnRequest.objects.get(pk=request.id)
    assert saved.status == Status.PENDING
    assert saved.reason == reason
    assert [i.quantity_requested for i in saved.items.all()] == [1]
    assert OutboxEvent.objects.filter(topic="return.initiated").count() == 1


def test_initiate_refuses_an_unknown_reason(new_return):
    # when / then
    with pytest.raises(ValidationError) as caught:
        new_return(reason="changed_my_mind")
    assert "reason" in caught.value.message_dict
    assert ReturnRequest.objects.count() == 0


def test_initiate_refuses_an_unknown_order(service):
    # when / then
    with pytest.raises(errors.OrderNotFoundError):
        service.initiate(
            order_id="nope", items=[{"line_item_id": "L1", "quantity": 1}], reason="other"
        )


def test_initiate_hides_another_customers_order(new_return, django_user_model):
    # given
    # A username equal to the customer id means nothing: only a verified access counts.
    stranger = django_user_model.objects.create_user(username="cust-1")
    # when / then
    with pytest.raises(errors.OrderNotFoundError):
        new_return(acting_user=stranger)


def test_initiate_by_the_orders_customer_records_a_customer_actor(new_return, customer):
    # when
    request = new_return(acting_user=customer)
    # then
    row = ReturnAuditLog.objects.get(return_request_id=request.id)
    assert (row.actor_type, row.actor_id) == ("customer", str(customer.pk))


def test_initiate_refuses_a_line_not_on_the_order(new_return):
    # when / then
    with pytest.raises(ValidationError):
        new_return(items=[{"line_item_id": "L9", "quantity": 1}])


def test_initiate_refuses_the_same_line_twice(new_return):
    # when / then
    with pytest.raises(ValidationError):
        new_return(
            items=[{"line_item_id": "L1", "quantity": 1}, {"line_item_id": "L1", "quantity": 1}]
        )


@pytest.mark.parametrize("quantity", [0, -1, "two", 1.5])
def test_initiate_refuses_a_non_positive_or_non_integer_quantity(new_return, quantity):
    # when / then
    with pytest.raises(errors.InvalidQuantityError):
        new_return(items=[{"line_item_id": "L1", "quantity": quantity}])


def test_initiate_refuses_more_than_was_bought(new_return):
    # when / then
    with pytest.raises(errors.InvalidQuantityError) as caught:
        new_return(items=[{"line_item_id": "L1", "quantity": 3}])
    assert caught.value.extra["returnable_quantity"] == 2


def test_rma_numbers_are_short_unambiguous_and_unique(new_return):
    # when
    first = new_return(items=[{"line_item_id": "L1", "quantity": 1}])
    second = new_return(items=[{"line_item_id": "L2", "quantity": 1}])
    # then
    for rma in (first.rma_number, second.rma_number):
        assert re.fullmatch(r"R[0-9A-HJKMNP-TV-Z]{6}", rma)
    assert first.rma_number != second.rma_number


def test_returns_are_found_by_rma_number_in_any_case(service, new_return, staff):
    # given
    request = new_return()
    # when
    service.reject(return_id=request.rma_number.lower(), reason="Worn", rejector=staff)
    # then
    assert ReturnRequest.objects.get(pk=request.id).status == Status.REJECTED


def test_approve_refuses_a_return_that_is_not_pending(service, new_return, staff):
    # given
    request = new_return()
    service.approve(return_id=request.id, refund_method="original_payment", approver=staff)
    # when / then
    with pytest.raises(errors.InvalidStateError) as caught:
        service.approve(return_id=request.id, refund_method="original_payment", approver=staff)
    assert caught.value.status_code == 409


def test_approve_refuses_an_unknown_return(service, staff):
    # when / then
    with pytest.raises(errors.ReturnNotFoundError):
        service.approve(return_id=999999, refund_method="store_credit", approver=staff)


def test_approve_refuses_an_unknown_refund_method(service, new_return, staff):
    # given
    request = new_return()
    # when / then
    with pytest.raises(ValidationError):
        service.approve(return_id=request.id, refund_method="cash", approver=staff)
    assert ReturnRequest.objects.get(pk=request.id).status == Status.PENDING


def test_approve_refuses_an_override_above_what_was_paid(service, new_return, staff):
    # given: one unit: 40.00 + 1.60 tax, no shipping for a change of mind
    request = new_return()
    # when / then
    with pytest.raises(errors.InvalidRefundAmountError):
        service.approve(
            return_id=request.id,
            refund_method="original_payment",
            approver=staff,
            refund_amount="41.61",
        )


def test_approve_with_a_partial_override_sets_the_estimate(service, new_return, staff):
    # given
    request = new_return()
    # when
    result = service.approve(
        return_id=request.id,
        refund_method="original_payment",
        approver=staff,
        refund_amount="30.00",
    )
    # then
    assert result.estimated_refund == Decimal("30.00")


def test_approve_to_store_credit_promises_the_bonus(service, new_return, staff):
    # given
    request = new_return()
    # when
    result = service.approve(return_id=request.id, refund_method="store_credit", approver=staff)
    # then
    assert result.store_credit_bonus == Decimal("4.16")


def test_approve_gives_a_label_and_parcel_instructions(service, new_return, staff):
    # given
    request = new_return()
    # when
    result = service.approve(return_id=request.id, refund_method="original_payment", approver=staff)
    # then
    saved = ReturnRequest.objects.get(pk=request.id)
    assert result.shipping_label.tracking_number == saved.tracking_number
    assert saved.shipping_label.read().startswith(b"%PDF")
    assert request.rma_number in result.instructions


def test_a_cheap_item_is_refunded_without_coming_back(service, staff):
    # given: 3.00 + 0.24 tax is below the 5.00 returnless threshold
    order = make_order([{"unit_price_amount": "3.00", "tax_amount": "0.24"}])
    request = service.initiate(
        order_id=order.external_id, items=[{"line_item_id": "L1", "quantity": 1}], reason="other"
    )
    # when
    result = service.approve(return_id=request.id, refund_method="original_payment", approver=staff)
    # then
    assert request.returnless is True
    assert result.shipping_label is None
    assert "No need to send" in result.instructions


def test_reject_needs_a_reason(service, new_return, staff):
    # given
    request = new_return()
    # when / then
    with pytest.raises(ValidationError):
        service.reject(return_id=request.id, reason="  ", rejector=staff)
    assert ReturnRequest.objects.get(pk=request.id).status == Status.PENDING


def test_reject_records_the_reason_and_emits_the_event(service, new_return, staff):
    # given
    request = new_return()
    # when
    assert service.reject(return_id=request.id, reason="Worn outdoors", rejector=staff) is True
    # then
    saved = ReturnRequest.objects.get(pk=request.id)
    assert (saved.status, saved.rejection_reason) == (Status.REJECTED, "Worn outdoors")
    event = OutboxEvent.objects.get(topic="return.rejected")
    assert event.payload["rejection_reason"] == "Worn outdoors"


def test_reject_refuses_an_approved_return(service, new_return, staff):
    # given
    request = new_return()
    service.approve(return_id=request.id, refund_method="exchange", approver=staff)
    # when / then
    with pytest.raises(errors.InvalidStateError):
        service.reject(return_id=request.id, reason="late", rejector=staff)


@pytest.mark.parametrize("approve_first", [False, True])
def test_cancel_before_shipping(service, new_return, staff, customer, approve_first):
    # given
    request = new_return()
    if approve_first:
        service.approve(return_id=request.id, refund_method="exchange", approver=staff)
    # when
    assert service.cancel(return_id=request.id, reason="Kept it", acting_user=customer)
    # then
    saved = ReturnRequest.objects.get(pk=request.id)
    assert (saved.status, saved.cancellation_reason) == (Status.CANCELLED, "Kept it")
    assert saved.cancelled_at is not None


def test_cancel_refuses_once_shipped(service, new_return, staff, customer):
    # given
    request = new_return()
    service.approve(return_id=request.id, refund_method="exchange", approver=staff)
    service.mark_shipped(return_id=request.id)
    # when / then
    with pytest.raises(errors.InvalidStateError):
        service.cancel(return_id=request.id, acting_user=customer)


def test_a_customer_cannot_cancel_someone_elses_return(service, new_return, django_user_model):
    # given
    request = new_return()
    stranger = django_user_model.objects.create_user(username="cust-1")
    # when / then
    with pytest.raises(errors.ReturnNotFoundError):
        service.cancel(return_id=request.id, acting_user=stranger)
    assert ReturnRequest.objects.get(pk=request.id).status == Status.PENDING


def test_receive_refuses_a_pending_return(service, new_return, staff):
    # given
    request = new_return()
    # when / then
    with pytest.raises(errors.InvalidStateError):
        _receive(service, request, staff)


def test_receive_refuses_more_than_requested(service, new_return, staff):
    # given
    request = new_return()
    service.approve(return_id=request.id, refund_method="exchange", approver=staff)
    # when / then
    with pytest.raises(errors.InvalidQuantityError):
        _receive(service, request, staff, quantity=2)
    assert ReturnItem.objects.get().quantity_received is None


def test_receive_refuses_an_item_not_on_the_return(service, new_return, staff):
    # given
    request = new_return()
    service.approve(return_id=request.id, refund_method="exchange", approver=staff)
    # when / then
    with pytest.raises(ValidationError):
        _receive(service, request, staff, line="L2")


def test_receive_marks_sellable_items_restockable(service, new_return, staff):
    # given
    request = new_return(
        items=[{"line_item_id": "L1", "quantity": 1}, {"line_item_id": "L2", "quantity": 1}]
    )
    service.approve(return_id=request.id, refund_method="exchange", approver=staff)
    # when
    result = service.receive_items(
        return_id=request.id,
        items_received=[
            {"line_item_id": "L1", "quantity_received": 1, "actual_condition": "sellable"},
            {"line_item_id": "L2", "quantity_received": 1, "actual_condition": "unsellable"},
        ],
        receiver=staff,
    )
    # then
    assert [(i.line_item_id, i.restockable) for i in result.items_status] == [
        ("L1", True),
        ("L2", False),
    ]
    assert result.status == Status.RECEIVED


def test_complete_refuses_before_the_items_arrive(service, new_return, staff):
    # given
    request = new_return()
    service.approve(return_id=request.id, refund_method="exchange", approver=staff)
    # when / then
    with pytest.raises(errors.ItemsNotReceivedError):
        service.complete(return_id=request.id)


def test_complete_refuses_a_pending_return(service, new_return):
    # given
    request = new_return()
    # when / then
    with pytest.raises(errors.InvalidStateError):
        service.complete(return_id=request.id)


def test_complete_refuses_when_nothing_arrived(service, new_return, staff):
    # given: the parcel was opened and held none of the items
    request = new_return()
    service.approve(return_id=request.id, refund_method="exchange", approver=staff)
    _receive(service, request, staff, quantity=0, condition="unsellable")
    # when / then
    with pytest.raises(errors.ItemsNotReceivedError):
        service.complete(return_id=request.id)


def test_check_eligibility_lists_what_can_come_back(service):
    # given
    order = make_order(
        [
            {"category": "apparel", "quantity": 2},
            {"category": "final_sale"},
        ]
    )
    # when
    result = service.check_eligibility(order_id=order.external_id)
    # then
    assert [(i.line_item_id, i.returnable_quantity) for i in result.eligible_items] == [("L1", 2)]
    assert [(i.line_item_id, i.reason) for i in result.ineligible_items] == [
        ("L2", "non_returnable_category")
    ]
    assert result.return_window_expires_at == order.delivered_at + __import__("datetime").timedelta(
        days=30
    )


def test_a_label_is_made_once(service, new_return, staff):
    # given
    request = new_return()
    first = service.approve(
        return_id=request.id, refund_method="exchange", approver=staff
    ).shipping_label
    # when
    again = service.generate_shipping_label(return_id=request.id)
    # then
    assert again == first
    assert ReturnAuditLog.objects.filter(action="label_generated").count() == 1


def test_no_label_for_a_pending_return(service, new_return):
    # given
    request = new_return()
    # when / then
    with pytest.raises(errors.InvalidStateError):
        service.generate_shipping_label(return_id=request.id)


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (errors.OrderNotFoundError, "order_not_found", 404),
        (errors.ReturnNotFoundError, "return_not_found", 404),
        (errors.ReturnWindowExpiredError, "return_window_expired", 422),
        (errors.ItemNotReturnableError, "item_not_returnable", 422),
        (errors.InvalidQuantityError, "invalid_quantity", 422),
        (errors.InvalidStateError, "invalid_state", 409),
        (errors.ItemsNotReceivedError, "items_not_received", 409),
    ],
)
def test_errors_have_stable_codes_and_statuses(error, code, status):
    # given / when
    exc = error()
    # then
    assert (exc.code, exc.status_code) == (code, status)
    assert exc.as_dict()["code"] == code
