"""/healthz tells the truth: 503 JSON naming each failed dependency (never a 500 of its
own), and the figures operators look at beside them."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from analytics import services
from analytics.models import Statement
from core import metrics
from core.models import Heartbeat
from tests.analytics.factories import StatementFactory
from tests.delivery.factories import DeliveryTaskFactory
from tests.faults.processes import app_on_redis, child_env, manage
from tests.faults.support import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def _healthz(client=None):
    response = (client or Client()).get("/healthz")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def test_a_killed_redis_makes_healthz_503_naming_cache_and_broker_and_breakers_unknown(
    private_redis,
):
    with app_on_redis(private_redis.url):
        status, body = _healthz()
        assert (status, body["failing"]) == (200, [])
        assert body["circuit_breakers"]["lesson-generator"] == "closed"
        # when
        private_redis.stop()
        status, body = _healthz()
    # then: 503 naming what is down; the database side still reported; breakers (kept in
    # the cache) are "unknown" instead of a 500
    assert status == 503
    assert body["status"] == "error"
    assert set(body["failing"]) == {"cache", "broker"}
    assert body["checks"]["cache"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["circuit_breakers"]["lesson-generator"] == "unknown"
    assert "queues" not in body


def test_an_unreachable_database_makes_healthz_503_naming_it_in_a_real_process(private_redis):
    # given: a process whose DATABASE_URL points where no PostgreSQL listens
    env = child_env(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/frontline",
        REDIS_URL=private_redis.url,
        ALLOWED_HOSTS="testserver",
        LOG_LEVEL="ERROR",
    )
    script = (
        "from django.test import Client; r = Client().get('/healthz');"
        "print(r.status_code, r['Retry-After']); print(r.content.decode())"
    )
    # when
    result = manage("shell", "--no-imports", "-c", script, env=env)
    # then
    assert result.returncode == 0, result.stderr
    first, body = result.stdout.strip().splitlines()[-2:]
    assert first.split()[0] == "503"
    body = json.loads(body)
    assert body["failing"] == ["database"]
    assert body["checks"]["database"]["status"] == "error"
    assert body["checks"]["cache"]["status"] == "ok"
    assert "scheduler" not in body


def test_a_stale_beat_makes_healthz_503_naming_the_scheduler(settings):
    settings.HEALTH_BEAT_STALE_SECONDS = 120
    Heartbeat.objects.create(name="beat", seen_at=timezone.now())
    status, body = _healthz()
    assert (status, body["scheduler"]["status"]) == (200, "ok")
    # when: beat's last heartbeat is older than the threshold
    Heartbeat.objects.filter(name="beat").update(seen_at=timezone.now() - timedelta(minutes=5))
    status, body = _healthz()
    # then
    assert status == 503
    assert body["failing"] == ["scheduler"]
    assert body["scheduler"]["status"] == "stale"
    assert body["scheduler"]["age_seconds"] >= 300


def test_etl_lag_past_the_fail_threshold_makes_healthz_503_and_past_warn_degraded(settings):
    settings.ANALYTICS_ETL_LAG_WARN_SECONDS = 300
    settings.ANALYTICS_ETL_LAG_FAIL_SECONDS = 1800
    services.statements_store(statements=StatementFactory.build_batch(2))
    # when: stored ten minutes ago and not flattened: degraded, still 200
    Statement.objects.update(stored=timezone.now() - timedelta(minutes=10))
    status, body = _healthz()
    assert (status, body["status"], body["etl"]["status"]) == (200, "degraded", "warn")
    # when: an hour ago
    Statement.objects.update(stored=timezone.now() - timedelta(hours=1))
    status, body = _healthz()
    # then
    assert status == 503
    assert body["failing"] == ["etl"]
    assert body["etl"]["status"] == "error"
    assert body["etl"]["lag_seconds"] >= 3600


def test_healthz_shows_queue_depths_per_celery_queue(private_redis, tasks_queued):
    from analytics.tasks import etl_consume_task
    from core.tasks import ping_task

    with app_on_redis(private_redis.url):
        # given: messages waiting, nobody consuming
        for _ in range(2):
            ping_task.delay()
        etl_consume_task.delay()
        status, body = _healthz()
    # then
    assert status == 200
    depths = {q["name"]: q["depth"] for q in body["queues"]["queues"]}
    assert depths == {"default": 2, "deliveries": 0, "etl": 1, "reports": 0, "recommendations": 0}
    assert body["queues"]["total"] == 3


def test_healthz_counts_dead_letters_of_the_last_hour():
    # given: one task dead-lettered now, one two hours ago, one only failed
    recent, old, failed = DeliveryTaskFactory.create_batch(3)
    from delivery.models import DeliveryTask

    DeliveryTask.objects.filter(pk=recent.pk).update(state="dead_lettered")
    DeliveryTask.objects.filter(pk=old.pk).update(
        state="dead_lettered", updated_at=timezone.now() - timedelta(hours=2)
    )
    DeliveryTask.objects.filter(pk=failed.pk).update(state="failed")
    # when
    status, body = _healthz()
    # then
    assert status == 200
    assert body["dead_letters"]["by_source"]["delivery_tasks"] == 1
    assert body["dead_letters"]["by_source"]["report_deliveries"] == 0
    assert body["dead_letters"]["total"] == 1


def test_healthz_reports_the_share_of_5xx_responses(settings, monkeypatch):
    settings.METRICS_FLUSH_SECONDS = 0
    metrics.reset()
    client = Client()
    for _ in range(3):
        assert client.get("/api/v1/no-such-thing/").status_code == 404
    # given: one request while PostgreSQL is unreachable (a real 503)
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PORT", str(free_port()))
    unknown = {
        "HTTP_AUTHORIZATION": "Basic dW5rbm93bjpzZWNyZXQ=",
        "HTTP_X_EXPERIENCE_API_VERSION": "1.0.3",
    }
    assert client.get("/xapi/statements", **unknown).status_code == 503
    connection.close()
    monkeypatch.undo()
    # when
    status, body = _healthz(client)
    # then: four responses counted before this one, one of them a server error
    assert status == 200
    rate = body["error_rate"]
    assert (rate["responses"], rate["server_errors"]) == (4, 1)
    assert rate["rate"] == 0.25
    assert rate["scope"] == "all web processes"
    assert body["job_runs"]["failed"] == 0


def test_a_web_probe_requiring_only_its_own_dependencies_passes_while_beat_is_stale():
    Heartbeat.objects.create(name="beat", seen_at=timezone.now() - timedelta(hours=1))
    full = Client().get("/healthz")
    web = Client().get("/healthz?require=database,cache")
    assert full.status_code == 503
    assert web.status_code == 200
    assert web.json()["failing"] == ["scheduler"]
