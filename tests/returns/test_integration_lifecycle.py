"""Integration: whole returns through the service, with real PostgreSQL, outbox and email."""

from decimal import Decimal

import pytest
from django.core import mail

from core.models import OutboxEvent
from gift_cards.models import GiftCard
from returns.models import RefundState, ReturnAuditLog, ReturnRequest

pytestmark = pytest.mark.django_db


def _topics():
    return list(OutboxEvent.objects.order_by("id").values_list("topic", flat=True))


def test_full_lifecycle_to_original_payment(
    service, new_return, staff, payments_server, django_capture_on_commit_callbacks
):
    # given
    with django_capture_on_commit_callbacks(execute=True):
        request = new_return()
        approval = service.approve(
            return_id=request.id, refund_method="original_payment", approver=staff
        )
        service.mark_shipped(return_id=request.id)
        receipt = service.receive_items(
            return_id=request.id,
            items_received=[
                {"line_item_id": "L1", "quantity_received": 1, "actual_condition": "sellable"}
            ],
            receiver=staff,
        )
        # when
        result = service.complete(return_id=request.id, acting_user=staff)
    # then
    saved = ReturnRequest.objects.get(pk=request.id)
    assert saved.status == ReturnRequest.Status.COMPLETED
    assert saved.refund_state == RefundState.SUCCEEDED
    assert approval.shipping_label.tracking_number.startswith("FLR")
    assert receipt.adjusted_refund == Decimal("41.60")
    assert result.refund_amount == Decimal("41.60")
    assert result.refund_transaction_id == "re_1"
    assert [r["body"]["amount"] for r in payments_server.requests] == ["41.60"]
    assert payments_server.requests[0]["key"] == f"return-{request.id}-refund-1"
    assert _topics() == [
        "return.initiated",
        "return.approved",
        "return.received",
        "inventory.restocked",
        "return.completed",
    ]
    assert [m.subject for m in mail.outbox] == [
        f"We received your return request {saved.rma_number}",
        f"Your return {saved.rma_number} is approved",
        f"We received the items of return {saved.rma_number}",
        f"Your refund for return {saved.rma_number} is on its way",
    ]
    actions = list(
        ReturnAuditLog.objects.filter(return_request_id=request.id).values_list("action", flat=True)
    )
    assert actions == [
        "initiated",
        "approved",
        "label_generated",
        "shipped",
        "received",
        "refund_started",
        "completed",
    ]


def test_store_credit_issues_a_gift_card_with_the_bonus(service, new_return, staff):
    # given
    request = new_return()
    service.approve(return_id=request.id, refund_method="store_credit", approver=staff)
    service.receive_items(
        return_id=request.id,
        items_received=[
            {"line_item_id": "L1", "quantity_received": 1, "actual_condition": "sellable"}
        ],
        receiver=staff,
    )
    # when
    result = service.complete(return_id=request.id, acting_user=staff)
    # then
    card = GiftCard.objects.get()
    assert result.refund_amount == Decimal("41.60")
    assert result.bonus_amount == Decimal("4.16")
    assert card.original_amount == Decimal("45.76")
    assert card.purchaser_id == "cust-1"
    assert result.refund_transaction_id == f"gift_card:{card.pk}"


def test_gift_card_refund_is_sent_to_the_customer_without_a_bonus(service, new_return, staff):
    # given
    request = new_return(reason="defective")
    service.approve(return_id=request.id, refund_method="gift_card", approver=staff)
    service.receive_items(
        return_id=request.id,
        items_received=[
            {"line_item_id": "L1", "quantity_received": 1, "actual_condition": "unsellable"}
        ],
        receiver=staff,
    )
    # when
    result = service.complete(return_id=request.id)
    # then: defective, so shipping back and no condition deduction
    card = GiftCard.objects.get()
    assert (result.refund_amount, result.bonus_amount) == (Decimal("48.60"), Decimal("0.00"))
    assert card.original_amount == Decimal("48.60")
    assert card.recipient_email == "shopper@example.com"
    assert result.inventory_updates == ()


def test_exchange_asks_the_orders_service_for_a_replacement(service, new_return, staff):
    # given
    request = new_return(reason="wrong_item")
    service.approve(return_id=request.id, refund_method="exchange", approver=staff)
    service.receive_items(
        return_id=request.id,
        items_received=[
            {"line_item_id": "L1", "quantity_received": 1, "actual_condition": "sellable"}
        ],
        receiver=staff,
    )
    # when
    result = service.complete(return_id=request.id)
    # then
    event = OutboxEvent.objects.get(topic="order.replacement_requested")
    assert result.refund_transaction_id == f"exchange-{event.event_id}"
    assert event.payload["order_id"] == request.order_id
    assert [line["line_item_id"] for line in event.payload["lines"]] == ["L1"]


def test_a_returnless_refund_completes_without_a_parcel(service, staff, payments_server):
    # given
    from tests.returns.conftest import make_order

    order = make_order(
        [{"unit_price_amount": "2.50", "tax_amount": "0.20"}], shipping_amount=Decimal("0")
    )
    request = service.initiate(
        order_id=order.external_id, items=[{"line_item_id": "L1", "quantity": 1}], reason="other"
    )
    service.approve(return_id=request.id, refund_method="original_payment", approver=staff)
    # when
    result = service.complete(return_id=request.id)
    # then
    assert result.refund_amount == Decimal("2.70")
    assert result.inventory_updates == ()
    assert ReturnRequest.objects.get(pk=request.id).status == ReturnRequest.Status.COMPLETED
    assert not OutboxEvent.objects.filter(topic="inventory.restocked").exists()


def test_only_sellable_items_are_restocked(service, new_return, staff):
    # given
    request = new_return(
        items=[{"line_item_id": "L1", "quantity": 2}, {"line_item_id": "L2", "quantity": 1}]
    )
    service.approve(return_id=request.id, refund_method="exchange", approver=staff)
    service.receive_items(
        return_id=request.id,
        items_received=[
            {"line_item_id": "L1", "quantity_received": 2, "actual_condition": "sellable"},
            {"line_item_id": "L2", "quantity_received": 1, "actual_condition": "damaged"},
        ],
        receiver=staff,
    )
    # when
    result = service.complete(return_id=request.id)
    # then
    event = OutboxEvent.objects.get(topic="inventory.restocked")
    assert [(i["product_id"], i["quantity"]) for i in event.payload["items"]] == [
        (result.inventory_updates[0].product_id, 2)
    ]
    assert len(result.inventory_updates) == 1


def test_inspection_step_then_completion(service, new_return, staff):
    # given
    request = new_return()
    service.approve(return_id=request.id, refund_method="exchange", approver=staff)
    service.receive_items(
        return_id=request.id,
        items_received=[
            {"line_item_id": "L1", "quantity_received": 1, "actual_condition": "sellable"}
        ],
        receiver=staff,
    )
    # when
    service.inspect(return_id=request.id, inspector=staff)
    service.complete(return_id=request.id)
    # then
    actions = list(
        ReturnAuditLog.objects.filter(return_request_id=request.id).values_list("action", flat=True)
    )
    assert actions[-2:] == ["inspection_started", "completed"]


def test_status_emails_have_text_and_html_parts(
    service, new_return, staff, django_capture_on_commit_callbacks
):
    # given
    with django_capture_on_commit_callbacks(execute=True):
        request = new_return()
    mail.outbox.clear()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        service.reject(return_id=request.id, reason="Outside our policy", rejector=staff)
    # then
    [message] = mail.outbox
    assert message.to == ["shopper@example.com"]
    assert "Outside our policy" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and request.rma_number in html


def test_an_email_is_only_sent_after_commit(service, order, django_capture_on_commit_callbacks):
    # given / when: the initiation fails after validation has started
    import pytest as _pytest

    from returns.errors import InvalidQuantityError

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        _pytest.raises(InvalidQuantityError),
    ):
        service.initiate(
            order_id=order.external_id,
            items=[{"line_item_id": "L1", "quantity": 1}, {"line_item_id": "L2", "quantity": 5}],
            reason="other",
        )
    # then
    assert callbacks == []
    assert mail.outbox == []
    assert ReturnRequest.objects.count() == 0


def test_demo_seed_builds_orders_and_returns(staff):
    # given
    from io import StringIO

    from returns import demo

    out = StringIO()
    # when
    demo.seed(stdout=out)
    demo.seed(stdout=out)
    # then
    assert ReturnRequest.objects.count() == 3
    assert "already present" in out.getvalue()
    assert set(ReturnRequest.objects.values_list("status", flat=True)) == {
        "pending",
        "approved",
        "received",
    }


def test_status_email_goes_to_the_local_sink_without_a_mail_server(settings, new_return):
    from delivery.models import SinkMessage
    from returns.notifications import send_return_status_email

    # given: no mail server configured (the embedded default)
    settings.EMAIL_HOST = ""
    request = ReturnRequest.objects.select_related("order").get(pk=new_return().id)
    # when
    sent = send_return_status_email(return_id=request.pk, status="approved")
    # then: the delivery app's email channel recorded it in the local sink
    assert sent is True
    record = SinkMessage.objects.get(channel="email")
    assert record.address == request.order.customer_email
    assert request.rma_number in record.subject
    assert "<" in record.html
