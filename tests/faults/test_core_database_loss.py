"""PostgreSQL lost: every door (REST API, xAPI, provider webhooks, pages) answers 503 with
Retry-After instead of a 500, and the next request after the outage works again."""

import base64

import pytest
from django.db import connection
from django.test import Client
from twilio.request_validator import RequestValidator

from tests.faults.processes import terminate_test_database_backends
from tests.faults.support import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def database_unreachable(monkeypatch):
    """From now on, connections go to a port where no PostgreSQL listens."""

    def cut() -> None:
        connection.close()
        monkeypatch.setitem(connection.settings_dict, "PORT", str(free_port()))

    yield cut
    connection.close()
    monkeypatch.undo()


def _assert_503_json(response, *, dependency="database"):
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert body["dependency"] == dependency


def test_api_answers_503_with_retry_after_when_its_connection_was_terminated(
    jwt_client, monkeypatch
):
    # given: no health check before reuse, so the terminated connection is used as is
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", False)
    assert jwt_client.get("/api/v1/auth/whoami/").status_code == 200
    # when: PostgreSQL terminates this test database's connections
    assert terminate_test_database_backends() >= 1
    response = jwt_client.get("/api/v1/auth/whoami/")
    # then: 503 JSON naming the database, and the dead connection is dropped, so the next
    # request reconnects and works
    _assert_503_json(response)
    assert jwt_client.get("/api/v1/auth/whoami/").status_code == 200


def test_api_answers_503_while_postgresql_is_unreachable(jwt_client, database_unreachable):
    database_unreachable()
    _assert_503_json(jwt_client.get("/api/v1/auth/whoami/"))
    _assert_503_json(jwt_client.get("/api/v1/learners/"))


def test_xapi_answers_503_while_postgresql_is_unreachable(database_unreachable):
    database_unreachable()
    basic = base64.b64encode(b"client-key:client-secret").decode()
    response = Client().post(
        "/xapi/statements",
        data="{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {basic}",
        HTTP_X_EXPERIENCE_API_VERSION="1.0.3",
    )
    _assert_503_json(response)


def test_a_signed_provider_webhook_gets_503_so_the_provider_retries(settings, database_unreachable):
    # given: a correctly signed Twilio status callback
    settings.TWILIO_AUTH_TOKEN = "f" * 32
    settings.DELIVERY_PUBLIC_BASE_URL = "https://frontline.example"
    params = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}
    url = "https://frontline.example/webhooks/twilio/status"
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)
    database_unreachable()
    # when
    response = Client().post(
        "/webhooks/twilio/status", data=params, HTTP_X_TWILIO_SIGNATURE=signature
    )
    # then: 503, which Twilio retries; never a 500
    _assert_503_json(response)


def test_a_staff_page_gets_the_admin_styled_503_page(staff_user, database_unreachable):
    client = Client()
    client.force_login(staff_user)
    database_unreachable()
    response = client.get("/admin/")
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    html = response.content.decode()
    assert "Temporarily unavailable" in html
    assert "admin/css/base" in html
