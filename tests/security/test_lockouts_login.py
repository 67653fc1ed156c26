"""Sign-in lockouts (django-axes): 5 failures lock the account and, separately, the address."""

import pytest
from axes.models import AccessAttempt
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def account(django_user_model):
    return django_user_model.objects.create_user(username="amira", password=PASSWORD)


def _sign_in(username, password, *, address="198.51.100.10", forwarded=None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    client = APIClient(REMOTE_ADDR=address)
    return client.post(TOKEN, {"username": username, "password": password}, **extra)


def test_rotating_forwarded_for_does_not_escape_the_lockout(account):
    # when an attacker sends wrong passwords, each claiming a fresh origin
    statuses = [
        _sign_in("amira", f"guess-{n}", forwarded=f"203.0.113.{n}").status_code for n in range(8)
    ]
    # then the fifth failure locks the account out and the rest are refused
    assert statuses[:4] == [401] * 4
    assert statuses[4:] == [429] * 4
    # and even the right password is refused during the lockout
    locked = _sign_in("amira", PASSWORD, forwarded="203.0.113.200")
    assert locked.status_code == 429
    assert locked.json()["code"] == "too_many_attempts"
    assert int(locked["Retry-After"]) > 0


def test_the_lockout_answer_does_not_tell_whether_the_account_exists(account):
    for n in range(5):
        _sign_in("amira", f"guess-{n}", address="198.51.100.11")
        _sign_in("nobody-here", f"guess-{n}", address="198.51.100.12")
    real = _sign_in("amira", "guess-x", address="198.51.100.11")
    ghost = _sign_in("nobody-here", "guess-x", address="198.51.100.12")
    assert (real.status_code, real.json()) == (ghost.status_code, ghost.json())
    assert real.status_code == 429


def test_the_account_is_locked_from_every_address(account):
    for n in range(5):
        _sign_in("amira", "wrong", address=f"198.51.100.{20 + n}")
    assert _sign_in("amira", PASSWORD, address="198.51.100.99").status_code == 429


def test_the_address_is_locked_across_accounts(django_user_model):
    other = django_user_model.objects.create_user(username="bo", password=PASSWORD)
    for n in range(5):
        _sign_in(f"sprayed-{n}", "Winter2026!", address="198.51.100.30")
    # then a correct sign-in from that address is refused, from elsewhere it works
    assert _sign_in(other.username, PASSWORD, address="198.51.100.30").status_code == 429
    assert _sign_in(other.username, PASSWORD, address="198.51.100.31").status_code == 200


def test_fewer_failures_than_the_limit_do_not_lock(account):
    for n in range(4):
        _sign_in("amira", f"typo-{n}")
    assert _sign_in("amira", PASSWORD).status_code == 200


def test_admin_login_locks_after_five_failures(django_user_model):
    django_user_model.objects.create_user(username="boss", password=PASSWORD, is_staff=True)
    client = Client(REMOTE_ADDR="198.51.100.40")
    statuses = [
        client.post("/admin/login/", {"username": "boss", "password": f"nope-{n}"}).status_code
        for n in range(6)
    ]
    # the login form answers 200 (form errors) until the fifth failure locks it
    assert statuses[:4] == [200] * 4
    assert statuses[4:] == [429, 429]
    refused = client.post("/admin/login/", {"username": "boss", "password": PASSWORD})
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session


def test_staff_see_login_lockouts_in_the_admin_and_lifting_one_lets_the_account_in(
    account, admin_client
):
    for n in range(5):
        _sign_in("amira", f"guess-{n}")
    assert _sign_in("amira", PASSWORD).status_code == 429
    # when staff open axes' admin and delete the attempt
    page = admin_client.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and "amira" in page.content.decode()
    AccessAttempt.objects.filter(username="amira").delete()
    # then the account signs in again (the address's own count was lifted with it)
    assert _sign_in("amira", PASSWORD).status_code == 200


def test_an_over_long_username_is_counted_and_locked_out_not_a_500():
    # given: a username longer than django-axes' 255-character column
    username = "x" * 300
    # when it fails five times from one address (each a different one)
    statuses = [
        _sign_in(username, "wrong", address=f"198.51.100.{50 + n}").status_code for n in range(6)
    ]
    # then each failure is recorded under the cut name, and the fifth locks it out
    assert statuses == [401] * 4 + [429] * 2
    recorded = AccessAttempt.objects.values_list("username", flat=True).distinct()
    assert list(recorded) == [username[:255]]
