"""A storefront customer is its own record, reached only through a verified link.

The attack: an account whose username equals a customer id (self-registration let anyone
pick one) listed, read and cancelled that customer's returns. Now a username means
nothing; access is a CustomerAccess, made by opening a one-time link emailed to an order's
address, asked for with the order number and that address (one 202 whatever exists).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from returns.models import CustomerAccess, CustomerAccessLink, ReturnRequest
from returns.services import ReturnsService
from tests.returns.conftest import _returns_settings, make_order  # noqa: F401  (autouse)

pytestmark = pytest.mark.django_db

REQUEST = "/api/v1/returns/access/request/"
CONFIRM = "/api/v1/returns/access/confirm/"
_TOKEN = re.compile(r"token=([^\s\"'<]+)")


@pytest.fixture
def victims_return():
    """Customer cust-1's order (shopper@example.com) with a pending return."""
    order = make_order([{"unit_price_amount": "40.00", "quantity": 2}], external_id="ORD-1")
    request = ReturnsService().initiate(
        order_id=order.external_id,
        items=[{"line_item_id": "L1", "quantity": 1}],
        reason="no_longer_needed",
    )
    mail.outbox.clear()
    return order, request


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _token_from_mail() -> str:
    [message] = [m for m in mail.outbox if "Follow the returns" in m.subject]
    return _TOKEN.search(message.body).group(1)


def _ask(client, capture, **body):
    with capture(execute=True):
        return client.post(REQUEST, body, format="json")


def test_a_username_equal_to_the_customer_id_reaches_nothing(victims_return, django_user_model):
    # given: the attacker's account is named after the victim's customer id
    order, request = victims_return
    attacker = _client(django_user_model.objects.create_user(username="cust-1"))
    rma = request.rma_number
    # when
    listing = attacker.get("/api/v1/returns/")
    detail = attacker.get(f"/api/v1/returns/{rma}/")
    cancel = attacker.post(f"/api/v1/returns/{rma}/cancel/", {}, format="json")
    eligibility = attacker.get(f"/api/v1/orders/{order.external_id}/return-eligibility/")
    opened = attacker.post(
        "/api/v1/returns/",
        {"order_id": order.external_id, "items": [{"line_item_id": "L1", "quantity": 1}]}
        | {"reason": "other"},
        format="json",
    )
    # then
    assert listing.status_code == 200 and listing.json()["count"] == 0
    assert [detail.status_code, cancel.status_code] == [404, 404]
    assert [eligibility.status_code, opened.status_code] == [404, 404]
    assert ReturnRequest.objects.get(rma_number=rma).status == "pending"
    assert ReturnRequest.objects.count() == 1


def test_the_emailed_link_gives_the_user_that_customers_returns(
    victims_return, django_user_model, django_capture_on_commit_callbacks
):
    # given
    _order, request = victims_return
    shopper = _client(django_user_model.objects.create_user(username="someone"))
    assert shopper.get("/api/v1/returns/").json()["count"] == 0
    # when: ask with the order number and its address, then open the emailed link
    asked = _ask(
        shopper,
        django_capture_on_commit_callbacks,
        order_id="ORD-1",
        email="Shopper@Example.com",
    )
    [message] = mail.outbox
    confirmed = shopper.post(CONFIRM, {"token": _token_from_mail()}, format="json")
    # then
    assert asked.status_code == 202
    assert message.to == ["shopper@example.com"]  # the order's address, as stored
    assert confirmed.status_code == 200, confirmed.json()
    assert confirmed.json()["customer_id"] == "cust-1"
    access = CustomerAccess.objects.get()
    assert access.method == "email_link" and access.verified_at is not None
    listing = shopper.get("/api/v1/returns/").json()
    assert [r["rma_number"] for r in listing["results"]] == [request.rma_number]
    cancel = shopper.post(f"/api/v1/returns/{request.rma_number}/cancel/", {}, format="json")
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"


def test_asking_for_a_link_reveals_nothing(
    victims_return, django_user_model, django_capture_on_commit_callbacks
):
    # given
    prober = _client(django_user_model.objects.create_user(username="prober"))
    # when
    answers = [
        _ask(prober, django_capture_on_commit_callbacks, order_id=order_id, email=email)
        for order_id, email in [
            ("ORD-1", "shopper@example.com"),  # matches
            ("ORD-1", "attacker@example.com"),  # right order, wrong address
            ("ORD-404", "shopper@example.com"),  # no such order
        ]
    ]
    # then
    assert {a.status_code for a in answers} == {202}
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert [m.to for m in mail.outbox] == [["shopper@example.com"]]
    assert CustomerAccess.objects.count() == 0


def test_the_link_works_once_and_only_as_issued(
    victims_return, django_user_model, django_capture_on_commit_callbacks
):
    # given
    user = _client(django_user_model.objects.create_user(username="someone"))
    _ask(user, django_capture_on_commit_callbacks, order_id="ORD-1", email="shopper@example.com")
    token = _token_from_mail()
    other = _client(django_user_model.objects.create_user(username="other"))
    # when
    forged = user.post(CONFIRM, {"token": token[:-2] + "xx"}, format="json")
    first = user.post(CONFIRM, {"token": token}, format="json")
    again = other.post(CONFIRM, {"token": token}, format="json")
    # then
    assert forged.status_code == 422 and forged.json()["code"] == "invalid_link"
    assert first.status_code == 200
    assert again.status_code == 422 and again.json()["code"] == "invalid_link"
    assert list(CustomerAccess.objects.values_list("user__username", flat=True)) == ["someone"]
    # the secret is not stored, only its hash
    link = CustomerAccessLink.objects.get()
    assert link.secret_hash and link.secret_hash not in token


def test_an_expired_link_is_refused(
    victims_return, django_user_model, django_capture_on_commit_callbacks
):
    user = _client(django_user_model.objects.create_user(username="someone"))
    _ask(user, django_capture_on_commit_callbacks, order_id="ORD-1", email="shopper@example.com")
    CustomerAccessLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = user.post(CONFIRM, {"token": _token_from_mail()}, format="json")
    assert response.status_code == 422 and not CustomerAccess.objects.exists()


def test_access_to_one_customer_is_not_access_to_another(
    victims_return, django_user_model, django_capture_on_commit_callbacks
):
    # given: someone verified for cust-2 only
    other_order = make_order([{}], external_id="ORD-2", customer__external_id="cust-2")
    other_order.customer_email = "two@example.com"
    other_order.save()
    user = _client(django_user_model.objects.create_user(username="two"))
    _ask(user, django_capture_on_commit_callbacks, order_id="ORD-2", email="two@example.com")
    assert user.post(CONFIRM, {"token": _token_from_mail()}, format="json").status_code == 200
    _order, request = victims_return
    # when / then
    assert user.get("/api/v1/returns/").json()["count"] == 0
    assert user.get(f"/api/v1/returns/{request.rma_number}/").status_code == 404


def test_link_endpoints_need_a_signed_in_user_and_valid_fields(
    api_client, victims_return, django_user_model
):
    assert api_client.post(REQUEST, {}, format="json").status_code == 401
    assert api_client.post(CONFIRM, {}, format="json").status_code == 401
    user = _client(django_user_model.objects.create_user(username="someone"))
    bad = user.post(REQUEST, {"order_id": "ORD-1", "email": "not-an-email"}, format="json")
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"email"}
    missing = user.post(CONFIRM, {}, format="json")
    assert missing.status_code == 400 and "token" in missing.json()["errors"]


def test_returns_staff_keep_their_access(victims_return, django_user_model):
    staff = django_user_model.objects.create_user(username="desk", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="process_returnrequest"))
    _order, request = victims_return
    listing = _client(django_user_model.objects.get(pk=staff.pk)).get("/api/v1/returns/")
    assert [r["rma_number"] for r in listing.json()["results"]] == [request.rma_number]


def test_asking_for_access_links_is_throttled_per_user(django_user_model, settings):
    # Each request may email an order's address: a few an hour per user, whoever asks.
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "customer_access": "2/hour"},
    }  # DRF reloads its settings on setting_changed
    first = _client(django_user_model.objects.create_user(username="asker"))
    second = _client(django_user_model.objects.create_user(username="other"))
    body = {"order_id": "ORD-1", "email": "shopper@example.com"}
    answers = [first.post(REQUEST, body, format="json").status_code for _ in range(3)]
    assert answers == [202, 202, 429]
    assert second.post(REQUEST, body, format="json").status_code == 202
