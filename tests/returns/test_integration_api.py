"""Integration: the returns API end to end, permissions and field errors."""

from decimal import Decimal

import pytest

from returns.models import ReturnRequest
from tests.returns.conftest import make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer_client(api_client, customer):
    api_client.force_authenticate(customer)
    return api_client


@pytest.fixture
def staff_client(staff):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(staff)
    return client


def _open(client, order, **overrides):
    body = {
        "order_id": order.external_id,
        "items": [{"line_item_id": "L1", "quantity": 1, "condition": "opened"}],
        "reason": "no_longer_needed",
        **overrides,
    }
    return client.post("/api/v1/returns/", body, format="json")


def test_customer_opens_and_follows_a_return(customer_client, order):
    # when
    response = _open(customer_client, order)
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "pending"
    assert body["estimated_refund_amount"] == "41.60"
    detail = customer_client.get(f"/api/v1/returns/{body['rma_number']}/")
    assert detail.status_code == 200
    assert detail.json()["items"][0]["line_item_id"] == "L1"


def test_bad_input_is_a_400_with_field_errors(customer_client, order):
    # when
    response = _open(
        customer_client, order, reason="bored", items=[{"line_item_id": "L1", "quantity": 0}]
    )
    # then
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"reason", "items"}
    assert ReturnRequest.objects.count() == 0


def test_domain_refusals_are_4xx_with_codes(customer_client, order):
    # when
    response = _open(customer_client, order, items=[{"line_item_id": "L1", "quantity": 5}])
    # then
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_quantity"


def test_a_customer_cannot_see_other_customers_orders_or_returns(
    customer_client, staff_client, service
):
    # given
    theirs = make_order([{}], customer__external_id="cust-2", external_id="theirs")
    request = service.initiate(
        order_id="theirs", items=[{"line_item_id": "L1", "quantity": 1}], reason="other"
    )
    # when
    detail = customer_client.get(f"/api/v1/returns/{request.rma_number}/")
    eligibility = customer_client.get(f"/api/v1/orders/{theirs.external_id}/return-eligibility/")
    opened = _open(customer_client, theirs)
    listing = customer_client.get("/api/v1/returns/")
    # then
    assert (detail.status_code, eligibility.status_code, opened.status_code) == (404, 404, 404)
    assert listing.json()["results"] == []
    assert staff_client.get(f"/api/v1/returns/{request.rma_number}/").status_code == 200


def test_eligibility_for_the_customers_order(customer_client, order):
    # when
    response = customer_client.get(f"/api/v1/orders/{order.external_id}/return-eligibility/")
    # then
    assert response.status_code == 200
    body = response.json()
    assert [i["line_item_id"] for i in body["eligible_items"]] == ["L1", "L2"]
    assert body["return_window_expires_at"]


def test_customers_cannot_use_staff_endpoints(customer_client, order):
    # given
    rma = _open(customer_client, order).json()["rma_number"]
    # when
    responses = [
        customer_client.post(f"/api/v1/returns/{rma}/{action}/", body, format="json")
        for action, body in [
            ("approve", {"refund_method": "store_credit"}),
            ("reject", {"reason": "x"}),
            ("receive", {"items_received": []}),
            ("complete", {}),
            ("label", {}),
        ]
    ]
    # then
    assert [r.status_code for r in responses] == [403] * 5
    assert ReturnRequest.objects.get().status == "pending"


def test_staff_without_the_permission_are_refused(order, service, django_user_model):
    # given
    from rest_framework.test import APIClient

    request = service.initiate(
        order_id=order.external_id, items=[{"line_item_id": "L1", "quantity": 1}], reason="other"
    )
    clerk = django_user_model.objects.create_user(username="clerk", is_staff=True)
    client = APIClient()
    client.force_authenticate(clerk)
    # when
    response = client.post(
        f"/api/v1/returns/{request.rma_number}/approve/",
        {"refund_method": "exchange"},
        format="json",
    )
    # then
    assert response.status_code == 403


def test_staff_run_the_desk_through_the_api(customer_client, staff_client, order, payments_server):
    # given
    rma = _open(customer_client, order).json()["rma_number"]
    # when
    approved = staff_client.post(
        f"/api/v1/returns/{rma}/approve/",
        {"refund_method": "original_payment", "notes": "ok"},
        format="json",
    )
    label = customer_client.get(f"/api/v1/returns/{rma}/label/")
    received = staff_client.post(
        f"/api/v1/returns/{rma}/receive/",
        {
            "items_received": [
                {"line_item_id": "L1", "quantity_received": 1, "actual_condition": "damaged"}
            ]
        },
        format="json",
    )
    completed = staff_client.post(f"/api/v1/returns/{rma}/complete/", {}, format="json")
    # then
    assert approved.status_code == 200, approved.json()
    assert approved.json()["approval"]["shipping_label"]["tracking_number"].startswith("FLR")
    assert label.status_code == 200 and label["Content-Type"] == "application/pdf"
    assert b"".join(label.streaming_content).startswith(b"%PDF")
    assert received.json()["receipt"]["adjusted_refund"] == "21.60"
    assert completed.status_code == 200, completed.json()
    assert completed.json()["completion"]["refund_amount"] == "21.60"
    assert completed.json()["return"]["status"] == "completed"
    assert payments_server.requests[0]["body"]["amount"] == "21.60"


def test_staff_reject_through_the_api(customer_client, staff_client, order):
    # given
    rma = _open(customer_client, order).json()["rma_number"]
    # when
    missing = staff_client.post(f"/api/v1/returns/{rma}/reject/", {}, format="json")
    rejected = staff_client.post(
        f"/api/v1/returns/{rma}/reject/", {"reason": "Worn"}, format="json"
    )
    # then
    assert missing.status_code == 400 and "reason" in missing.json()["errors"]
    assert rejected.json()["status"] == "rejected"


def test_customer_cancels_through_the_api(customer_client, order):
    # given
    rma = _open(customer_client, order).json()["rma_number"]
    # when
    response = customer_client.post(
        f"/api/v1/returns/{rma}/cancel/", {"reason": "changed mind"}, format="json"
    )
    again = customer_client.post(f"/api/v1/returns/{rma}/cancel/", {}, format="json")
    # then
    assert response.json()["status"] == "cancelled"
    assert (again.status_code, again.json()["code"]) == (409, "invalid_state")


def test_a_failed_refund_answers_502_and_stays_retryable(
    customer_client, staff_client, order, payments_server
):
    # given
    rma = _open(customer_client, order).json()["rma_number"]
    staff_client.post(
        f"/api/v1/returns/{rma}/approve/", {"refund_method": "original_payment"}, format="json"
    )
    staff_client.post(
        f"/api/v1/returns/{rma}/receive/",
        {
            "items_received": [
                {"line_item_id": "L1", "quantity_received": 1, "actual_condition": "sellable"}
            ]
        },
        format="json",
    )
    payments_server.script = ["500"] * 3
    # when
    failed = staff_client.post(f"/api/v1/returns/{rma}/complete/", {}, format="json")
    retried = staff_client.post(f"/api/v1/returns/{rma}/complete/", {}, format="json")
    # then
    assert (failed.status_code, failed.json()["code"]) == (502, "refund_failed")
    assert retried.status_code == 200
    assert ReturnRequest.objects.get().actual_refund_amount == Decimal("41.60")
    assert len(payments_server.refunds) == 1


def test_unauthenticated_calls_are_refused(api_client, order):
    # when
    response = _open(api_client, order)
    # then
    assert response.status_code == 401
