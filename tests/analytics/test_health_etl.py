"""/healthz reports the ETL's lag (degraded, still 200, past the threshold) and the state of
every circuit breaker, including ones this process has not used yet."""

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics import etl, services
from analytics.models import Statement
from core import health
from lessons.generation import generator_breaker
from tests.analytics.factories import StatementFactory

pytestmark = pytest.mark.django_db


def test_healthz_reports_the_etl_and_the_breakers_when_all_is_well(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["etl"]["status"] == "ok"
    assert body["etl"]["lag_seconds"] == 0
    assert body["etl"]["unflattened"] == 0
    assert body["etl"]["mode"] == "incremental"
    assert body["circuit_breakers"]["lesson-generator"] == "closed"


def test_a_lagging_etl_makes_healthz_degraded_but_not_failing(client, settings):
    settings.ANALYTICS_ETL_LAG_WARN_SECONDS = 300
    # given: statements stored ten minutes ago and never flattened
    services.statements_store(statements=StatementFactory.build_batch(3))
    Statement.objects.update(stored=timezone.now() - timedelta(minutes=10))
    # when
    response = client.get("/healthz")
    # then: still 200 (the web node is fine), but degraded, with the lag
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["etl"]["status"] == "warn"
    assert body["etl"]["unflattened"] == 3
    assert body["etl"]["lag_seconds"] >= 600
    assert body["etl"]["warn_after_seconds"] == 300
    # and once the sweep has flattened them, all is well again
    etl.sweep()
    body = client.get("/healthz").json()
    assert (body["status"], body["etl"]["status"], body["etl"]["unflattened"]) == ("ok", "ok", 0)


def test_an_open_breaker_is_reported(client, settings):
    breaker = generator_breaker()
    for _ in range(settings.LESSON_GENERATOR_BREAKER_THRESHOLD):
        breaker.record_failure()
    assert client.get("/healthz").json()["circuit_breakers"]["lesson-generator"] == "open"


def test_a_section_that_raises_is_reported_and_never_fails_healthz(client):
    def broken() -> dict:
        raise RuntimeError("no idea")

    health.register_section("broken", broken)
    try:
        response = client.get("/healthz")
    finally:
        health.SECTIONS.pop("broken")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["broken"] == {"status": "unknown", "error": "RuntimeError: no idea"}
