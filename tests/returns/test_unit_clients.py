"""Unit: the payments client, carrier labels and webhook signatures at their edges."""

from decimal import Decimal

import pytest

from returns.payments import PaymentsClient, PaymentsRejectedError, PaymentsUnavailableError
from returns.shipping import LabelRequest, LocalCarrierClient, tracking_number_is_valid
from returns.webhooks import sign, signature_is_valid

D = Decimal


def _refund(client, key="k-1"):
    return client.refund(
        payment_reference="pay_1",
        amount=D("12.34"),
        currency="USD",
        idempotency_key=key,
        reference="R1",
    )


def test_refund_sends_the_amount_as_a_string_with_the_idempotency_key(payments_server):
    # when
    refund = _refund(PaymentsClient())
    # then
    assert refund.refund_id == "re_1"
    [call] = payments_server.requests
    assert call["key"] == "k-1"
    assert call["body"]["amount"] == "12.34"


def test_the_same_key_gets_back_the_same_refund(payments_server):
    # given
    client = PaymentsClient()
    # when
    first, second = _refund(client), _refund(client)
    # then
    assert first == second
    assert len(payments_server.refunds) == 1


def test_a_refusal_is_not_retried(payments_server):
    # given
    payments_server.script = ["reject"]
    # when / then
    with pytest.raises(PaymentsRejectedError) as caught:
        _refund(PaymentsClient())
    assert caught.value.status == 422
    assert len(payments_server.requests) == 1


def test_server_errors_are_retried_then_reported_as_unavailable(payments_server):
    # given
    payments_server.script = ["500"] * 3
    # when / then
    with pytest.raises(PaymentsUnavailableError):
        _refund(PaymentsClient(attempts=3))
    assert len(payments_server.requests) == 3


def test_an_unreachable_or_unconfigured_service_is_unavailable(settings):
    # given: nothing listens on port 9 (discard) here; and no URL at all
    # when / then
    with pytest.raises(PaymentsUnavailableError):
        _refund(PaymentsClient(base_url="http://127.0.0.1:9", attempts=2))
    with pytest.raises(PaymentsUnavailableError):
        _refund(PaymentsClient(base_url=""))


def test_the_local_carrier_draws_a_pdf_with_a_valid_tracking_number():
    # when
    label = LocalCarrierClient().create_label(
        LabelRequest(rma_number="RABC123", order_id="o-1", customer_id="c-1", ship_to="Dock 1")
    )
    # then
    assert label.pdf.startswith(b"%PDF")
    assert tracking_number_is_valid(label.tracking_number)
    assert not tracking_number_is_valid(
        label.tracking_number[:-1] + str((int(label.tracking_number[-1]) + 1) % 10)
    )


def test_webhook_signatures_bind_secret_time_and_body():
    # given
    body = b'{"id": "e1"}'
    signature = sign(secret="s", timestamp="1000", body=body)
    check = dict(secret="s", timestamp="1000", body=body, signature=signature, tolerance=300)
    # when / then
    assert signature_is_valid(**check, now=1100)
    assert not signature_is_valid(**{**check, "secret": "other"}, now=1100)
    assert not signature_is_valid(**{**check, "body": b'{"id": "e2"}'}, now=1100)
    assert not signature_is_valid(**check, now=1000 + 301)
