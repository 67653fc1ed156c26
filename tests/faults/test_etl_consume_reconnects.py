"""`manage.py etl_consume` as a real process: it outlives a Redis restart and terminated
database connections, logs each reconnect, and then flattens new statements again."""

import json
import sys
import uuid

import pytest
from django.db import connection

from analytics import services
from analytics.models import StatementFlat
from tests.analytics.factories import StatementFactory
from tests.faults.processes import (
    ROOT,
    Child,
    app_on_redis,
    child_env,
    terminate_test_database_backends,
)
from tests.faults.support import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _consumer(redis_url: str) -> Child:
    env = child_env(
        REDIS_URL=redis_url,
        ETL_MODE="streaming",
        RECONNECT_INITIAL_SECONDS="0.1",
        RECONNECT_MAX_SECONDS="0.5",
    )
    args = [sys.executable, str(ROOT / "manage.py"), "etl_consume", "--block-ms", "200"]
    child = Child(args=args, env=env).start()
    # Ready once it says so (Django's start-up takes a while on a busy machine).
    wait_until(lambda: "consuming" in child.output() or not child.alive, timeout=60)
    assert child.alive, child.output()[-2000:]
    return child


def _store(n: int) -> set[uuid.UUID]:
    """Store statements the way the API does: after commit their ids go on the stream."""
    statements = StatementFactory.build_batch(n)
    return set(services.statements_store(statements=statements))


def _flattened(ids: set[uuid.UUID]) -> bool:
    return StatementFlat.objects.filter(statement_id__in=ids).count() == len(ids)


def _log_lines(child: Child, message: str) -> list[dict]:
    lines = []
    for raw in child.output().splitlines():
        if raw.startswith("{"):
            record = json.loads(raw)
            if record.get("message") == message:
                lines.append(record)
    return lines


def test_etl_consume_survives_a_redis_restart_and_flattens_what_comes_after(
    private_redis, settings
):
    settings.ETL_MODE = "streaming"
    consumer = _consumer(private_redis.url)
    try:
        with app_on_redis(private_redis.url):
            # given: the consumer flattens what is stored
            before = _store(2)
            wait_until(lambda: _flattened(before), timeout=20)
            # when: Redis is killed, the consumer keeps trying ...
            private_redis.stop()
            wait_until(lambda: len(_log_lines(consumer, "reconnecting")) >= 2, timeout=10)
            assert consumer.alive, consumer.output()[-2000:]
            # ... and Redis comes back empty (no stream, no consumer group)
            private_redis.start()
            after = _store(3)
            wait_until(lambda: _flattened(after), timeout=20)
        # then: still the same process, which logged each attempt and the recovery
        assert consumer.alive
        attempts = _log_lines(consumer, "reconnecting")
        assert [a["attempt"] for a in attempts[:2]] == [1, 2]
        assert {a["dependency"] for a in attempts} == {"redis"}
        wait_until(lambda: _log_lines(consumer, "reconnected"), timeout=5)
    finally:
        consumer.stop()


def test_etl_consume_survives_terminated_database_connections(private_redis, settings):
    settings.ETL_MODE = "streaming"
    consumer = _consumer(private_redis.url)
    try:
        with app_on_redis(private_redis.url):
            first = _store(1)
            wait_until(lambda: _flattened(first), timeout=20)
            # when: PostgreSQL terminates the consumer's connection (and ours)
            assert terminate_test_database_backends() >= 1
            connection.close()  # this test's own connection was terminated too
            second = _store(2)
            # then: the pass that hit the dead connection is retried on a new one
            wait_until(lambda: _flattened(second), timeout=20)
        assert consumer.alive, consumer.output()[-2000:]
        assert {a["dependency"] for a in _log_lines(consumer, "reconnecting")} == {"database"}
    finally:
        consumer.stop()


def test_a_pass_cut_short_by_a_lost_database_is_redone_at_once_by_the_same_consumer(
    redis_client, settings
):
    from analytics import etl

    settings.ETL_MODE = "streaming"
    settings.ANALYTICS_ETL_CLAIM_IDLE_SECONDS = 3600  # no reclaiming as a dead consumer's
    ids = _store(3)
    # given: the consumer read the entries, then its database connection was terminated
    terminate_test_database_backends()
    with pytest.raises(Exception) as failure:
        etl.consume(consumer="c1")
    assert "terminating connection" in str(failure.value)
    connection.close()
    stream, group = settings.ANALYTICS_ETL_STREAM, settings.ANALYTICS_ETL_GROUP
    assert redis_client.xpending(stream, group)["pending"] == 1
    # when: the same consumer's next pass
    counts = etl.consume(consumer="c1")
    # then: its unacked entry is flattened and acked without waiting for the idle time
    assert (counts["entries"], counts["flattened"]) == (1, 3)
    assert _flattened(ids)
    assert redis_client.xpending(stream, group)["pending"] == 0
