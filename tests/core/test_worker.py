"""A real Celery worker on the Redis broker: ping round-trips, request ids travel."""

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery_app import app as celery_app
from core.logging import request_id_var
from core.models import JobRun
from core.tasks import ping_task, prune_task


@pytest.fixture
def live_worker(tasks_queued):
    with start_worker(
        celery_app,
        pool="solo",
        perform_ping_check=False,
        shutdown_timeout=10,
        queues=["default"],
        loglevel="WARNING",
    ) as worker:
        yield worker


@pytest.mark.django_db(transaction=True)
def test_ping_round_trips_through_a_worker(live_worker):
    result = ping_task.delay()
    assert result.get(timeout=20) == "pong"


@pytest.mark.django_db(transaction=True)
def test_request_id_is_carried_into_the_task(live_worker):
    token = request_id_var.set("req-from-web")
    try:
        result = prune_task.delay()
    finally:
        request_id_var.reset(token)
    result.get(timeout=20)
    assert JobRun.objects.get(name="core.prune").request_id == "req-from-web"
