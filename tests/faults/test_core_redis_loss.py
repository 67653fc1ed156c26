"""The REST API while Redis is gone: the default throttles keep limiting, per process, and
requests keep being answered (JWT and sessions live in PostgreSQL)."""

import logging

import pytest
from rest_framework import throttling

from core.api import throttling as core_throttling
from tests.faults.processes import app_on_redis

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_api_answers_and_still_throttles_per_process_while_redis_is_down(
    private_redis, jwt_client, monkeypatch, caplog
):
    # given: two requests a minute per user
    monkeypatch.setattr(
        throttling.SimpleRateThrottle, "THROTTLE_RATES", {"user": "2/min", "anon": "2/min"}
    )
    caplog.set_level(logging.WARNING, logger="core.outages")
    with app_on_redis(private_redis.url):
        private_redis.stop()
        # when
        statuses = [jwt_client.get("/api/v1/auth/whoami/").status_code for _ in range(3)]
    # then: answered, and the limit held without Redis
    assert statuses == [200, 200, 429]
    lines = [r.getMessage() for r in caplog.records]
    assert lines.count("redis (API throttles) unavailable") == 1


def test_the_throttle_history_is_back_in_redis_once_redis_returns(
    private_redis, jwt_client, settings
):
    settings.RATE_LIMIT_REDIS_RETRY_SECONDS = 0
    with app_on_redis(private_redis.url):
        private_redis.stop()
        assert jwt_client.get("/api/v1/auth/whoami/").status_code == 200
        private_redis.start()
        assert jwt_client.get("/api/v1/auth/whoami/").status_code == 200
        keys = private_redis.client().keys("*throttle_user*")
    assert len(keys) == 1
    assert core_throttling._cache._outage.down is False
