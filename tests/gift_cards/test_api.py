"""Integration: the gift card API over HTTP (DRF test client, real database and Redis)."""

from decimal import Decimal

import pytest
from django.urls import reverse

from gift_cards.models import GiftCard

pytestmark = pytest.mark.django_db


def url(name, **kwargs):
    return reverse(f"gift_cards:{name}", kwargs=kwargs or None)


def issue(client, **body):
    response = client.post(
        url("gift-card-create"), {"amount": "100.00", "purchaser_id": "u1", **body}
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_create_returns_the_code_once_with_money_as_strings(pos_client):
    # when
    body = issue(pos_client, currency="EUR", recipient_email="a@example.com")
    # then
    assert body["code"].startswith("GIFT-")
    assert body["masked_code"].endswith(body["code"][-4:])
    assert (body["original_amount"], body["current_balance"], body["currency"]) == (
        "100.00",
        "100.00",
        "EUR",
    )
    assert body["status"] == "active"


def test_detail_shows_the_ledger_but_never_the_code(pos_client, staff_client):
    body = issue(pos_client)
    pos_client.post(
        url("gift-card-redeem"), {"code": body["code"], "order_id": "o1", "amount": "5"}
    )
    response = staff_client.get(url("gift-card-detail", pk=body["id"]))
    assert response.status_code == 200
    data = response.json()
    assert body["code"] not in response.content.decode()
    assert [t["transaction_type"] for t in data["transactions"]] == ["creation", "redemption"]
    assert data["current_balance"] == "95.00"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"amount": "abc", "purchaser_id": "u"}, "amount"),
        ({"amount": "10"}, "purchaser_id"),
        ({"amount": "10", "purchaser_id": "u", "recipient_email": "nope"}, "recipient_email"),
        ({"amount": "10", "purchaser_id": "u", "expires_at": "someday"}, "expires_at"),
    ],
)
def test_create_with_bad_fields_is_400_with_field_errors(pos_client, payload, field):
    response = pos_client.post(url("gift-card-create"), payload)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]
    assert not GiftCard.objects.exists()


@pytest.mark.parametrize(
    "payload, status, code",
    [
        # Finer than the currency's minor units, or over its maximum: rules (422).
        ({"amount": "10.005"}, 422, "invalid_amount"),
        ({"amount": "99999"}, 422, "invalid_amount"),
        # What the schema rules out (a pattern, an enum): malformed (400).
        ({"amount": "0"}, 400, "invalid"),
        ({"amount": "10", "currency": "XTS"}, 400, "unsupported_currency"),
    ],
)
def test_create_refusals_have_stable_codes(pos_client, payload, status, code):
    response = pos_client.post(url("gift-card-create"), {"purchaser_id": "u", **payload})
    assert response.status_code == status
    assert response.json()["code"] == code


def test_redeem_then_replay_returns_the_first_result(pos_client):
    code = issue(pos_client)["code"]
    body = {"code": code, "order_id": "o-1", "amount": "30.00"}
    first = pos_client.post(url("gift-card-redeem"), body)
    again = pos_client.post(url("gift-card-redeem"), body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["redemption_id"] == first.json()["redemption_id"]
    assert again.json()["replayed"] is True
    assert first.json()["remaining_balance"] == "70.00"


def test_idempotency_key_header_is_honoured(pos_client):
    code = issue(pos_client)["code"]
    body = {"code": code, "order_id": "o-1", "amount": "1"}
    pos_client.post(url("gift-card-redeem"), body, HTTP_IDEMPOTENCY_KEY="k-1")
    second = pos_client.post(url("gift-card-redeem"), body, HTTP_IDEMPOTENCY_KEY="k-2")
    replay = pos_client.post(url("gift-card-redeem"), body, HTTP_IDEMPOTENCY_KEY="k-2")
    assert (second.status_code, replay.status_code) == (201, 200)
    assert replay.json()["remaining_balance"] == "98.00"


@pytest.mark.parametrize(
    "amount, status, code",
    [
        ("100.01", 409, "insufficient_balance"),
        ("-1", 400, "invalid"),
        ("1.001", 422, "invalid_amount"),
    ],
)
def test_redeem_refusals(pos_client, amount, status, code):
    card = issue(pos_client)["code"]
    response = pos_client.post(
        url("gift-card-redeem"), {"code": card, "order_id": "o", "amount": amount}
    )
    assert response.status_code == status
    assert response.json()["code"] == code


def test_unknown_code_is_404_invalid_code(pos_client):
    response = pos_client.post(
        url("gift-card-redeem"), {"code": "GIFT-2222-2222-2222-2222", "order_id": "o"}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "invalid_code"


def test_balance_returns_masked_code_and_amounts(pos_client, client_for):
    code = issue(pos_client)["code"]
    response = client_for("check_balance_giftcard").post(url("gift-card-balance"), {"code": code})
    assert response.status_code == 200
    body = response.json()
    assert code not in response.content.decode()
    assert (body["current_balance"], body["status"]) == ("100.00", "active")


def test_refund_endpoint(pos_client):
    code = issue(pos_client)["code"]
    redemption = pos_client.post(
        url("gift-card-redeem"), {"code": code, "order_id": "o", "amount": "40"}
    ).json()
    response = pos_client.post(
        url("gift-card-refund"), {"redemption_id": redemption["redemption_id"], "amount": "15"}
    )
    assert response.status_code == 201
    assert (response.json()["refunded_amount"], response.json()["new_balance"]) == (
        "15.00",
        "75.00",
    )
    too_much = pos_client.post(
        url("gift-card-refund"), {"redemption_id": redemption["redemption_id"], "amount": "26"}
    )
    assert (too_much.status_code, too_much.json()["code"]) == (409, "refund_exceeds_redemption")


def test_refund_of_malformed_redemption_id_is_400(pos_client):
    response = pos_client.post(url("gift-card-refund"), {"redemption_id": "x"})
    assert response.status_code == 400
    assert "redemption_id" in response.json()["errors"]


def test_transfer_endpoint_and_currency_mismatch(pos_client, client_for):
    a = issue(pos_client)["code"]
    b = issue(pos_client)["code"]
    c = issue(pos_client, currency="GBP")["code"]
    pos_client.post(url("gift-card-redeem"), {"code": b, "order_id": "o", "amount": "50"})
    customer = client_for("transfer_giftcard")
    moved = customer.post(url("gift-card-transfer"), {"from_code": a, "to_code": b, "amount": "20"})
    assert moved.status_code == 201
    assert (moved.json()["from_balance"], moved.json()["to_balance"]) == ("80.00", "70.00")
    mismatch = customer.post(
        url("gift-card-transfer"), {"from_code": a, "to_code": c, "amount": "1"}
    )
    assert (mismatch.status_code, mismatch.json()["code"]) == (409, "currency_mismatch")


def test_void_by_id_and_by_code(pos_client, staff_client):
    first = issue(pos_client)
    second = issue(pos_client)
    by_id = staff_client.post(url("gift-card-void"), {"gift_card_id": first["id"], "reason": "x"})
    by_code = staff_client.post(url("gift-card-void"), {"code": second["code"], "reason": "y"})
    again = staff_client.post(url("gift-card-void"), {"gift_card_id": first["id"], "reason": "x"})
    assert (by_id.status_code, by_code.status_code) == (200, 200)
    assert by_id.json()["voided"] is True and again.json()["voided"] is False
    assert by_code.json()["gift_card"]["status"] == "voided"
    assert by_code.json()["gift_card"]["current_balance"] == "0.00"


def test_void_needs_exactly_one_of_id_or_code(staff_client):
    response = staff_client.post(url("gift-card-void"), {"reason": "x"})
    assert response.status_code == 422
    assert response.json()["code"] == "unprocessable"


def test_bulk_endpoint_returns_each_code_once(staff_client):
    response = staff_client.post(
        url("gift-card-bulk"), {"count": 5, "amount": "10", "prefix": "spring"}
    )
    assert response.status_code == 201
    cards = response.json()["cards"]
    assert len(cards) == 5 and all(c["code"].startswith("SPRING-") for c in cards)
    assert GiftCard.objects.filter(purchaser_id="promotion:SPRING").count() == 5


def test_bulk_endpoint_refuses_counts_over_the_limit(staff_client, settings):
    settings.GIFT_CARD_BULK_MAX = 3
    response = staff_client.post(url("gift-card-bulk"), {"count": 4, "amount": "10"})
    assert (response.status_code, response.json()["code"]) == (400, "bulk_limit_exceeded")


def test_openapi_schema_documents_every_operation(client):
    schema = client.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    for suffix in ["", "redeem/", "balance/", "refunds/", "transfers/", "void/", "bulk/"]:
        assert f"/api/v1/gift-cards/{suffix}" in paths
    redeem = paths["/api/v1/gift-cards/redeem/"]["post"]
    assert {"201", "404", "409", "429"} <= set(redeem["responses"])


def test_money_amounts_as_json_numbers_are_read_exactly(pos_client):
    response = pos_client.post(
        url("gift-card-create"), {"amount": 19.99, "purchaser_id": "u"}, format="json"
    )
    assert response.status_code == 201
    assert GiftCard.objects.get().original_amount == Decimal("19.99")
