"""Fixtures of the security tests: accounts holding exactly the permissions a test names."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient


@pytest.fixture
def make_account(django_user_model):
    """make_account("app.codename", ..., staff=True, password=...) → a fresh user."""
    counter = iter(range(1_000_000))

    def make(*perms: str, staff: bool = True, password: str | None = None, username=None):
        user = django_user_model.objects.create_user(
            username=username or f"sec-user-{next(counter)}", password=password, is_staff=staff
        )
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        return django_user_model.objects.get(pk=user.pk)  # fresh permission cache

    return make


@pytest.fixture
def api_as(make_account):
    """api_as("app.codename", ...) → an API client signed in as staff holding those."""

    def make(*perms: str, staff: bool = True) -> APIClient:
        client = APIClient()
        client.force_authenticate(make_account(*perms, staff=staff))
        return client

    return make


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Lockout tests sign in dozens of times; a slow hash only costs time here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
