"""Saga and compensation: refunds that fail, time out, get rejected or race; partial
receipt; rollback when store credit cannot be issued; events that wait in the outbox."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from core.models import JobRun, OutboxEvent
from core.outbox import publish_pending
from gift_cards.models import GiftCard
from returns import errors
from returns.models import RefundState, ReturnAuditLog, ReturnRequest
from returns.payments import PaymentsClient
from returns.services import ReturnsService
from returns.tasks import return_refunds_retry_task
from tests.returns.conftest import make_order

Status = ReturnRequest.Status
D = Decimal


def _received(service, new_return, staff, method="original_payment", quantity=1, **kwargs):
    request = new_return(**kwargs)
    service.approve(return_id=request.id, refund_method=method, approver=staff)
    service.receive_items(
        return_id=request.id,
        items_received=[
            {"line_item_id": "L1", "quantity_received": quantity, "actual_condition": "sellable"}
        ],
        receiver=staff,
    )
    return request


def _actions(return_id):
    return list(
        ReturnAuditLog.objects.filter(return_request_id=return_id).values_list("action", flat=True)
    )


@pytest.mark.django_db
def test_a_payments_error_then_success_completes_once(service, new_return, staff, payments_server):
    # given
    request = _received(service, new_return, staff)
    payments_server.script = ["500"]
    # when
    result = service.complete(return_id=request.id, acting_user=staff)
    # then
    assert result.refund_transaction_id == "re_1"
    assert len(payments_server.requests) == 2
    assert {r["key"] for r in payments_server.requests} == {f"return-{request.id}-refund-1"}
    assert ReturnRequest.objects.get(pk=request.id).status == Status.COMPLETED


@pytest.mark.django_db
def test_a_refund_that_keeps_failing_leaves_the_return_retryable(
    service, new_return, staff, payments_server, django_capture_on_commit_callbacks
):
    # given
    request = _received(service, new_return, staff)
    payments_server.script = ["500", "500", "500"]
    mail.outbox.clear()
    # when
    with pytest.raises(errors.RefundFailedError), django_capture_on_commit_callbacks(execute=True):
        service.complete(return_id=request.id, acting_user=staff)
    # then
    saved = ReturnRequest.objects.get(pk=request.id)
    assert (saved.status, saved.refund_state, saved.refund_attempts) == (
        Status.RECEIVED,
        RefundState.FAILED,
        1,
    )
    assert "500" in saved.refund_last_error
    assert _actions(request.id)[-2:] == ["refund_started", "refund_failed"]
    assert not OutboxEvent.objects.filter(
        topic__in=["return.completed", "inventory.restocked"]
    ).exists()
    assert mail.outbox == []


@pytest.mark.django_db
def test_the_beat_job_retries_a_failed_refund(service, new_return, staff, payments_server):
    # given
    request = _received(service, new_return, staff)
    payments_server.script = ["500", "500", "500"]
    with pytest.raises(errors.RefundFailedError):
        service.complete(return_id=request.id)
    # when: the service is healthy again and beat fires
    return_refunds_retry_task.delay()
    # then
    saved = ReturnRequest.objects.get(pk=request.id)
    assert (saved.status, saved.refund_state) == (Status.COMPLETED, RefundState.SUCCEEDED)
    assert len(payments_server.refunds) == 1
    run = JobRun.objects.get(name="returns.retry_refunds")
    assert run.counts == {"attempted": 1, "completed": 1, "failed": 0}


@pytest.mark.django_db
def test_a_timeout_after_the_refund_was_made_is_recovered_by_the_idempotency_key(
    service, new_return, staff, payments_server, settings
):
    # given: the first answer comes after our timeout, but the refund was made
    settings.RETURNS_PAYMENTS_TIMEOUT_SECONDS = 0.3
    request = _received(service, new_return, staff)
    payments_server.script = ["timeout_after_accept"]
    # when
    result = service.complete(return_id=request.id)
    # then
    assert len(payments_server.requests) == 2
    assert len(payments_server.refunds) == 1
    assert result.refund_transaction_id == "re_1"
    assert ReturnRequest.objects.get(pk=request.id).refund_state == RefundState.SUCCEEDED


@pytest.mark.django_db
def test_a_crash_between_refund_and_commit_is_recovered_without_refunding_twice(
    service, new_return, staff, payments_server
):
    # given: the refund intent was committed, the payments service refunded, then we died
    request = _received(service, new_return, staff)
    ReturnRequest.objects.filter(pk=request.id).update(
        refund_state=RefundState.PENDING,
        refund_started_at=timezone.now() - timedelta(hours=1),
        actual_refund_amount=D("41.60"),
    )
    PaymentsClient().refund(
        payment_reference="pay",
        amount=D("41.60"),
        currency="USD",
        idempotency_key=f"return-{request.id}-refund-1",
        reference=request.rma_number,
    )
    # when
    outcome = service.retry_refunds()
    # then
    assert outcome.completed == 1
    assert len(payments_server.refunds) == 1
    saved = ReturnRequest.objects.get(pk=request.id)
    assert (saved.status, saved.refund_transaction_id) == (Status.COMPLETED, "re_1")


@pytest.mark.django_db
def test_a_rejected_refund_waits_for_staff_and_can_go_to_store_credit(
    service, new_return, staff, payments_server
):
    # given
    request = _received(service, new_return, staff)
    payments_server.script = ["reject"]
    with pytest.raises(errors.RefundRejectedError):
        service.complete(return_id=request.id, acting_user=staff)
    saved = ReturnRequest.objects.get(pk=request.id)
    assert (saved.refund_state, saved.refund_generation) == (RefundState.REJECTED, 2)
    assert len(payments_server.requests) == 1  # a refusal is not retried
    assert service.retry_refunds().attempted == 0
    # when
    service.change_refund_method(
        return_id=request.id, refund_method="store_credit", acting_user=staff
    )
    result = service.complete(return_id=request.id, acting_user=staff)
    # then
    assert result.refund_method == "store_credit"
    assert GiftCard.objects.get().original_amount == D("45.76")


@pytest.mark.django_db
def test_a_second_completion_while_a_refund_is_in_flight_is_refused(service, new_return, staff):
    # given
    request = _received(service, new_return, staff)
    ReturnRequest.objects.filter(pk=request.id).update(
        refund_state=RefundState.PENDING,
        refund_started_at=timezone.now(),
        actual_refund_amount=D("41.60"),
    )
    # when / then
    with pytest.raises(errors.RefundInProgressError):
        service.complete(return_id=request.id)


@pytest.mark.django_db
def test_store_credit_that_cannot_be_issued_rolls_everything_back(service, staff):
    # given: gift cards do not exist in AUD
    order = make_order([{"unit_price_amount": "40.00"}], currency="AUD")
    request = service.initiate(
        order_id=order.external_id, items=[{"line_item_id": "L1", "quantity": 1}], reason="other"
    )
    service.approve(return_id=request.id, refund_method="store_credit", approver=staff)
    service.receive_items(
        return_id=request.id,
        items_received=[
            {"line_item_id": "L1", "quantity_received": 1, "actual_condition": "sellable"}
        ],
        receiver=staff,
    )
    # when
    with pytest.raises(errors.RefundFailedError):
        service.complete(return_id=request.id, acting_user=staff)
    # then
    saved = ReturnRequest.objects.get(pk=request.id)
    assert (saved.status, saved.refund_state) == (Status.RECEIVED, RefundState.FAILED)
    assert GiftCard.objects.count() == 0
    assert not OutboxEvent.objects.filter(
        topic__in=["return.completed", "inventory.restocked", "gift_card.created"]
    ).exists()
    assert "completed" not in _actions(request.id)
    assert _actions(request.id)[-1] == "refund_failed"


@pytest.mark.django_db
def test_partial_receipt_refunds_what_arrived_and_a_later_parcel_adds_the_rest(
    service, new_return, staff, payments_server
):
    # given: two units asked back; the first parcel holds one
    request = new_return(items=[{"line_item_id": "L1", "quantity": 2}])
    service.approve(return_id=request.id, refund_method="original_payment", approver=staff)
    entry = {"line_item_id": "L1", "quantity_received": 1, "actual_condition": "sellable"}
    first = service.receive_items(return_id=request.id, items_received=[entry], receiver=staff)
    assert (first.fully_received, first.adjusted_refund) == (False, D("41.60"))
    # when
    second = service.receive_items(return_id=request.id, items_received=[entry], receiver=staff)
    result = service.complete(return_id=request.id)
    # then: the whole line is back (not the whole order: no shipping)
    assert (second.fully_received, second.adjusted_refund) == (True, D("83.20"))
    assert result.refund_amount == D("83.20")
    assert [u.quantity for u in result.inventory_updates] == [2]
    assert _actions(request.id).count("received_more") == 1


@pytest.mark.django_db
def test_a_retry_cannot_change_the_amount_of_a_refund_under_way(
    service, new_return, staff, payments_server
):
    # given
    request = _received(service, new_return, staff)
    payments_server.script = ["500", "500", "500"]
    with pytest.raises(errors.RefundFailedError):
        service.complete(return_id=request.id)
    # when / then
    with pytest.raises(errors.InvalidRefundAmountError):
        service.complete(return_id=request.id, final_refund_amount="10.00")
    assert [r["body"]["amount"] for r in payments_server.requests] == ["41.60"] * 3


@pytest.mark.django_db
def test_restock_events_wait_in_the_outbox_when_the_stream_is_not_reachable(
    service, new_return, staff, tasks_queued
):
    # given: no publisher runs (broker only queues); the return completes anyway
    request = _received(service, new_return, staff, method="exchange")
    # when
    service.complete(return_id=request.id)
    # then
    restock = OutboxEvent.objects.get(topic="inventory.restocked")
    assert restock.published_at is None
    assert restock.payload["items"][0]["quantity"] == 1
    assert OutboxEvent.objects.filter(topic="order.replacement_requested").exists()
    publish_pending()
    restock.refresh_from_db()
    assert restock.published_at is not None


def _race(target, count=2):
    barrier = threading.Barrier(count)
    outcomes = []

    def run():
        try:
            barrier.wait()
            outcomes.append(("ok", target()))
        except Exception as exc:
            outcomes.append(("error", exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_staff_approving_at_once_approve_once(order, staff, django_user_model):
    # given
    service = ReturnsService()
    request = service.initiate(
        order_id=order.external_id, items=[{"line_item_id": "L1", "quantity": 1}], reason="other"
    )
    # when
    outcomes = _race(
        lambda: ReturnsService().approve(
            return_id=request.id, refund_method="original_payment", approver=staff
        )
    )
    # then
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["error", "ok"]
    [error] = [value for kind, value in outcomes if kind == "error"]
    assert isinstance(error, errors.InvalidStateError)
    assert (
        ReturnAuditLog.objects.filter(return_request_id=request.id, action="approved").count() == 1
    )
    assert OutboxEvent.objects.filter(topic="return.approved").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_completions_at_once_issue_one_store_credit(order, staff):
    # given
    service = ReturnsService()
    request = service.initiate(
        order_id=order.external_id, items=[{"line_item_id": "L1", "quantity": 1}], reason="other"
    )
    service.approve(return_id=request.id, refund_method="store_credit", approver=staff)
    service.receive_items(
        return_id=request.id,
        items_received=[
            {"line_item_id": "L1", "quantity_received": 1, "actual_condition": "sellable"}
        ],
        receiver=staff,
    )
    # when
    outcomes = _race(lambda: ReturnsService().complete(return_id=request.id, acting_user=staff))
    # then
    assert sorted(kind for kind, _ in outcomes) == ["error", "ok"]
    assert GiftCard.objects.count() == 1
    assert OutboxEvent.objects.filter(topic="return.completed").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_returns_racing_for_the_last_unit_cannot_both_take_it():
    # given: one unit bought
    order = make_order([{"quantity": 1}])
    # when
    outcomes = _race(
        lambda: ReturnsService().initiate(
            order_id=order.external_id,
            items=[{"line_item_id": "L1", "quantity": 1}],
            reason="other",
        )
    )
    # then
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["error", "ok"]
    [error] = [value for kind, value in outcomes if kind == "error"]
    assert isinstance(error, errors.InvalidQuantityError)
    assert ReturnRequest.objects.count() == 1
