"""Shared fixtures. Tests run against the real PostgreSQL and Redis of `make test`."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from config.celery_app import app as celery_app
from core.redis import get_redis

# Tasks run in-process unless a test starts a real worker.
celery_app.conf.task_always_eager = True
celery_app.conf.task_eager_propagates = True


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts from an empty test Redis database (cache, streams, limiters)."""
    client = get_redis()
    if client is not None:
        client.flushdb()
    else:
        cache.clear()
    yield


@pytest.fixture
def redis_client():
    client = get_redis()
    assert client is not None, "tests need REDIS_URL (make test sets it)"
    return client


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="associate", password="s3cret-pass-123")


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="staffer", password="s3cret-pass-123", is_staff=True
    )


@pytest.fixture
def authed_client(api_client, user) -> APIClient:
    api_client.force_authenticate(user)
    return api_client


@pytest.fixture
def tasks_queued():
    """Tasks go to the real broker and wait there (no worker), instead of running eagerly."""
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = True
