import pytest
from django.db import connection

from config.celery_app import app as celery_app
from core.models import Heartbeat


@pytest.mark.django_db
def test_healthz_is_200_with_latencies_when_everything_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    for name in ("database", "cache", "broker"):
        assert body["checks"][name]["status"] == "ok"
        assert body["checks"][name]["latency_ms"] >= 0
    assert body["mode"] == "production"
    assert body["scheduler"] == {"status": "never_seen"}


@pytest.mark.django_db
def test_healthz_reports_the_beat_heartbeat(client):
    from core.tasks import heartbeat_task

    heartbeat_task.delay()
    assert Heartbeat.objects.filter(name="beat").exists()
    assert client.get("/healthz").json()["scheduler"]["status"] == "ok"


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_is_unreachable(client):
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
    finally:
        celery_app.conf.broker_url = original
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["broker"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.django_db(transaction=True)
def test_healthz_is_503_when_the_database_is_unreachable(client, monkeypatch):
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PORT", "1")
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["status"] == "error"
    assert "scheduler" not in body


@pytest.mark.django_db
def test_healthz_is_exempt_from_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/admin/login/").status_code == 301
