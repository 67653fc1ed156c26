"""JWT refresh tokens: rotation with blacklisting, logout, and revocation on a password
change or deactivation."""

from datetime import timedelta

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from core.tokens import user_tokens_revoke

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def account(django_user_model):
    return django_user_model.objects.create_user(username="amira", password=PASSWORD)


def _tokens(username="amira", password=PASSWORD) -> dict:
    response = APIClient().post("/api/v1/auth/token/", {"username": username, "password": password})
    assert response.status_code == 200, response.content
    return response.json()


def _refresh(refresh: str):
    return APIClient().post("/api/v1/auth/token/refresh/", {"refresh": refresh})


def _whoami(access: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get("/api/v1/auth/whoami/")


def test_access_tokens_are_short_lived_and_refresh_tokens_rotate():
    assert settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] == timedelta(minutes=5)
    assert settings.SIMPLE_JWT["ROTATE_REFRESH_TOKENS"] is True
    assert settings.SIMPLE_JWT["BLACKLIST_AFTER_ROTATION"] is True


def test_rotation_blacklists_the_used_refresh_token(account):
    first = _tokens()["refresh"]
    # when the refresh token is used
    rotated = _refresh(first)
    assert rotated.status_code == 200
    second = rotated.json()["refresh"]
    assert second != first
    # then it is spent; the new one works once in turn
    assert _refresh(first).status_code == 401
    assert _refresh(second).status_code == 200


def test_logout_blacklists_the_refresh_token(account):
    tokens = _tokens()
    response = APIClient().post("/api/v1/auth/logout/", {"refresh": tokens["refresh"]})
    assert response.status_code == 204
    refused = _refresh(tokens["refresh"])
    assert refused.status_code == 401
    assert "blacklisted" in refused.json()["message"]


def test_logout_with_a_garbage_token_is_401_not_500():
    response = APIClient().post("/api/v1/auth/logout/", {"refresh": "not-a-token"})
    assert response.status_code == 401
    assert APIClient().post("/api/v1/auth/logout/", {}).status_code == 400


def test_refresh_after_a_password_change_in_the_admin_is_refused(account, admin_client):
    tokens = _tokens()
    # when staff set a new password on the account's admin page
    response = admin_client.post(
        f"/admin/auth/user/{account.pk}/password/",
        {"password1": "a-whole-new-secret-42", "password2": "a-whole-new-secret-42"},
    )
    assert response.status_code == 302
    # then the refresh token mints nothing, and it is blacklisted
    assert _refresh(tokens["refresh"]).status_code == 401
    assert BlacklistedToken.objects.filter(token__user=account).count() == 1


def test_refresh_after_a_password_change_by_any_other_path_is_refused(account):
    # e.g. `manage.py changepassword`, or the admin's own password page: set_password
    tokens = _tokens()
    account.set_password("a-whole-new-secret-42")
    account.save()
    refused = _refresh(tokens["refresh"])
    assert refused.status_code == 401
    assert refused.json()["code"] == "password_changed"
    # and the access token minted before the change no longer authenticates either
    assert _whoami(tokens["access"]).status_code == 401


def test_deactivating_an_account_in_the_admin_revokes_its_tokens(account, admin_client):
    tokens = [_tokens()["refresh"] for _ in range(2)]
    form = admin_client.get(f"/admin/auth/user/{account.pk}/change/").context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in ("is_active", "groups", "user_permissions", "password")
    }
    data.update(
        {
            "date_joined_0": account.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": account.date_joined.strftime("%H:%M:%S"),
            "last_login_0": "",
            "last_login_1": "",
        }
    )
    data.pop("date_joined", None)
    data.pop("last_login", None)
    response = admin_client.post(f"/admin/auth/user/{account.pk}/change/", data)
    assert response.status_code == 302, response.content
    account.refresh_from_db()
    assert account.is_active is False
    assert BlacklistedToken.objects.filter(token__user=account).count() == 2
    assert all(_refresh(token).status_code == 401 for token in tokens)


def test_revoking_blacklists_every_outstanding_token_once(account):
    for _ in range(3):
        _tokens()
    assert OutstandingToken.objects.filter(user=account).count() == 3
    assert user_tokens_revoke(user=account) == 3
    assert user_tokens_revoke(user=account) == 0
