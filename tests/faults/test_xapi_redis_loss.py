"""xAPI while Redis is gone: statements keep being stored in PostgreSQL (200 means stored),
the per-credential rate limit holds per process, and nothing answers 500."""

import json
import logging
import uuid

import pytest
from django.test import Client

from analytics import auth, etl
from analytics.models import Statement, StatementFlat
from core import resilience
from tests.analytics.factories import StatementFactory, credential
from tests.faults.processes import Gunicorn, app_on_redis, child_env, http, xapi_headers

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_credentials():
    auth.forget()
    yield
    auth.forget()


def _client_post(client: Client, key: str, secret: str, body) -> tuple[int, dict]:
    headers = {
        f"HTTP_{k.upper().replace('-', '_')}": v for k, v in xapi_headers(key, secret).items()
    }
    headers.pop("HTTP_CONTENT_TYPE")
    response = client.post(
        "/xapi/statements", data=json.dumps(body), content_type="application/json", **headers
    )
    return response.status_code, response


def test_statements_posted_while_redis_is_down_are_stored_and_answered_200(private_redis, settings):
    # given: streaming ETL on the private redis, a credential with a rate limit
    settings.ETL_MODE = "streaming"
    cred, secret = credential(name="LMS", rate_per_minute=6000, burst=50)
    client = Client()
    with app_on_redis(private_redis.url):
        before = StatementFactory()
        status, _ = _client_post(client, cred.key, secret, before)
        assert status == 200
        assert private_redis.client().xlen(settings.ANALYTICS_ETL_STREAM) == 1
        # when: Redis dies and more statements arrive, one at a time and in a batch
        private_redis.stop()
        singles = [StatementFactory() for _ in range(3)]
        batch = [StatementFactory() for _ in range(4)]
        statuses = [_client_post(client, cred.key, secret, s)[0] for s in singles]
        statuses.append(_client_post(client, cred.key, secret, batch)[0])
    # then: every POST answered 200, and every one of them is in PostgreSQL
    assert statuses == [200, 200, 200, 200]
    ids = {uuid.UUID(s["id"]) for s in [before, *singles, *batch]}
    assert set(Statement.objects.values_list("pk", flat=True)) == ids
    # and the stream never heard of them: the sweep flattens them
    etl.sweep()
    assert set(StatementFlat.objects.values_list("statement_id", flat=True)) == ids


def test_the_rate_limit_holds_per_process_while_redis_is_down_and_is_logged_once(
    private_redis, caplog
):
    # given: 60 per minute with bursts of 3
    cred, secret = credential(name="LMS", rate_per_minute=60, burst=3)
    client = Client()
    with app_on_redis(private_redis.url):
        private_redis.stop()
        caplog.set_level(logging.WARNING, logger="core.outages")
        # when: five statements in a row, with Redis gone
        statuses = [_client_post(client, cred.key, secret, StatementFactory())[0] for _ in range(5)]
    # then: the burst passes, the rest are refused with 429 (never 500), and the outage is
    # logged once, not once per request
    assert statuses == [200, 200, 200, 429, 429]
    assert Statement.objects.count() == 3
    outage_lines = [
        r for r in caplog.records if r.getMessage() == "redis (rate limiter) unavailable"
    ]
    assert len(outage_lines) == 1


def test_the_limiter_goes_back_to_the_shared_redis_bucket_when_redis_returns(
    private_redis, settings, caplog
):
    settings.RATE_LIMIT_REDIS_RETRY_SECONDS = 0
    limiter = resilience.RateLimiter("fault-xapi", rate=1, per=60.0, burst=2)
    with app_on_redis(private_redis.url):
        private_redis.stop()
        caplog.set_level(logging.WARNING, logger="core.outages")
        assert limiter.try_acquire("client")[0] is True  # per process while Redis is gone
        private_redis.start()
        # when: Redis is back, the bucket lives in Redis again
        assert limiter.try_acquire("client")[0] is True
        assert private_redis.client().exists("ratelimit:fault-xapi:client") == 1
    messages = [r.getMessage() for r in caplog.records]
    assert "redis (rate limiter) unavailable" in messages
    assert "redis (rate limiter) available again" in messages


def test_gunicorn_keeps_storing_xapi_statements_through_a_redis_outage(private_redis):
    # given: a real gunicorn on the test database and the private redis, streaming ETL
    cred, secret = credential(name="LMS", rate_per_minute=6000, burst=100)
    web = Gunicorn.with_env(child_env(REDIS_URL=private_redis.url, ETL_MODE="streaming")).start()
    headers = xapi_headers(cred.key, secret)
    try:
        url = f"{web.url}/xapi/statements"
        first = StatementFactory()
        assert http("POST", url, body=json.dumps(first).encode(), headers=headers)[0] == 200
        # when: Redis is killed, statements keep coming, then Redis comes back
        private_redis.stop()
        during = [StatementFactory() for _ in range(5)]
        during_statuses = [
            http("POST", url, body=json.dumps(s).encode(), headers=headers)[0] for s in during
        ]
        private_redis.start()
        after = StatementFactory()
        after_status = http("POST", url, body=json.dumps(after).encode(), headers=headers)[0]
        output = web.output()
    finally:
        web.stop()
    # then: 200 for each, and each of them is in PostgreSQL
    assert during_statuses == [200] * 5, output[-3000:]
    assert after_status == 200
    stored = set(Statement.objects.values_list("pk", flat=True))
    assert stored == {uuid.UUID(s["id"]) for s in [first, *during, after]}
    assert "Internal Server Error" not in output


def test_wrong_secrets_still_lock_the_key_out_per_process_while_redis_is_down(
    private_redis, caplog
):
    # given: a credential, and Redis gone
    cred, secret = credential(name="LMS")
    client = Client()
    with app_on_redis(private_redis.url):
        private_redis.stop()
        caplog.set_level(logging.WARNING, logger="core.outages")
        # when: five wrong secrets, then the right one
        wrong = [_client_post(client, cred.key, "wrong", StatementFactory())[0] for _ in range(5)]
        right = _client_post(client, cred.key, secret, StatementFactory())[0]
    # then: each wrong secret is a 401 and the key is then locked (429), never a 503
    assert wrong == [401] * 5
    assert right == 429
    assert Statement.objects.count() == 0
    outage_lines = [r for r in caplog.records if r.getMessage() == "redis (lockouts) unavailable"]
    assert len(outage_lines) == 1
