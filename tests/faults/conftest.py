"""Fixtures for tests that break real dependencies (see tests/faults/support.py)."""

import pytest

from tests.faults.support import PrivateRedis


@pytest.fixture
def private_redis():
    server = PrivateRedis().start()
    yield server
    server.close()


@pytest.fixture
def jwt_client(api_client, user):
    """An API client signed in with a real JWT (the `user` fixture's password)."""
    response = api_client.post(
        "/api/v1/auth/token/",
        {"username": user.username, "password": "s3cret-pass-123"},
        format="json",
    )
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return api_client
