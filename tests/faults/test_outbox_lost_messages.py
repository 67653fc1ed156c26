"""Nothing lost in the outbox: a handler run whose Celery message went down with Redis is
re-dispatched by the sweep, once its grace period is over, until its ProcessedEvent exists."""

import logging
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from config.celery_app import app as celery_app
from core import outbox
from core.models import JobRun, OutboxEvent, ProcessedEvent
from core.outbox import publish_event, publish_pending, redispatch_owed
from core.tasks import outbox_sweep_task
from tests.concurrency import run_in_threads
from tests.faults.processes import app_on_redis

pytestmark = pytest.mark.django_db(transaction=True)

HANDLER = f"{__name__}._credit"
FAILING = f"{__name__}._always_fails"
credited: list[int] = []


@outbox.subscribe("fault.credit")
def _credit(event):
    credited.append(event.payload["n"])


@outbox.subscribe("fault.failing")
def _always_fails(event):
    raise RuntimeError("handler keeps failing")


@pytest.fixture(autouse=True)
def _reset():
    credited.clear()
    yield
    celery_app.conf.task_always_eager = True


def _eager(on: bool) -> None:
    celery_app.conf.task_always_eager = on


def test_a_handler_run_lost_with_redis_is_redispatched_by_the_sweep(private_redis, settings):
    settings.OUTBOX_HANDLER_GRACE_SECONDS = 120
    with app_on_redis(private_redis.url):
        # given: an event published and its handler run queued on Redis, no worker yet
        _eager(False)
        with transaction.atomic():
            event = publish_event("fault.credit", {"n": 7})
        assert publish_pending() == 1
        assert private_redis.client().llen("default") >= 1
        # when: Redis restarts empty (the queued message is gone)
        private_redis.restart()
        assert private_redis.client().llen("default") == 0
        _eager(True)
        # then: within the grace period the sweep leaves it alone ...
        assert redispatch_owed().redispatched == 0
        assert credited == []
        # ... and after it, re-dispatches the run, which credits once
        later = timezone.now() + timedelta(seconds=121)
        result = redispatch_owed(now=later)
    assert (result.checked, result.redispatched) == (1, 1)
    assert credited == [7]
    assert ProcessedEvent.objects.filter(handler=HANDLER, event_id=event.event_id).exists()
    # and the next check settles the event: nothing is owed any more
    event.refresh_from_db()
    settle = redispatch_owed(now=event.handlers_due_at)
    assert (settle.settled, settle.redispatched) == (1, 0)
    assert OutboxEvent.objects.get(pk=event.pk).handlers_due_at is None
    assert credited == [7]


def test_a_run_that_did_happen_is_not_redispatched():
    # given: published and handled (eager Celery runs the handler at publish)
    with transaction.atomic():
        event = publish_event("fault.credit", {"n": 1})
    publish_pending()
    assert credited == [1]
    # when
    result = redispatch_owed(now=timezone.now() + timedelta(hours=1))
    # then
    assert (result.checked, result.settled, result.redispatched) == (1, 1, 0)
    assert credited == [1]
    assert OutboxEvent.objects.get(pk=event.pk).handlers_due_at is None


def test_an_event_without_handlers_owes_nothing():
    with transaction.atomic():
        event = publish_event("fault.nobody-listens", {"n": 1})
    publish_pending()
    assert OutboxEvent.objects.get(pk=event.pk).handlers_due_at is None
    assert redispatch_owed(now=timezone.now() + timedelta(days=1)).checked == 0


def test_a_run_that_keeps_failing_is_retried_further_and_further_apart(settings):
    settings.OUTBOX_HANDLER_GRACE_SECONDS = 60
    _eager(False)  # the publisher's own dispatch is lost: no broker consumer
    with transaction.atomic():
        event = publish_event("fault.failing", {"n": 1})
    publish_pending()
    _eager(True)
    now = timezone.now() + timedelta(seconds=61)
    gaps = []
    for _ in range(3):
        redispatch_owed(now=now)
        event.refresh_from_db()
        gaps.append((event.handlers_due_at - now).total_seconds())
        now = event.handlers_due_at
    # then: still owed (no ProcessedEvent), checked after 2x, 4x, 8x the grace
    assert gaps == [120, 240, 480]
    assert event.redispatches == 3
    assert not ProcessedEvent.objects.filter(handler=FAILING).exists()


def test_two_sweeps_at_once_dispatch_each_owed_run_once(settings):
    settings.OUTBOX_HANDLER_GRACE_SECONDS = 1
    _eager(False)
    with transaction.atomic():
        for n in range(20):
            publish_event("fault.credit", {"n": n})
    publish_pending()
    _eager(True)
    later = timezone.now() + timedelta(seconds=5)
    # when
    results, errors = run_in_threads(
        lambda: redispatch_owed(now=later, batch_size=20),
        lambda: redispatch_owed(now=later, batch_size=20),
    )
    # then: between them every run was dispatched once, and every credit happened once
    assert errors == [None, None]
    assert sum(r.redispatched for r in results) == 20
    assert sorted(credited) == list(range(20))


def test_the_sweep_is_a_tracked_job_run():
    _eager(False)
    with transaction.atomic():
        publish_event("fault.credit", {"n": 3})
    publish_pending()
    _eager(True)
    OutboxEvent.objects.update(handlers_due_at=timezone.now() - timedelta(seconds=1))
    # when
    outbox_sweep_task.delay()
    # then
    run = JobRun.objects.get(name="core.outbox_sweep")
    assert run.status == JobRun.Status.SUCCEEDED
    assert run.counts == {"checked": 1, "settled": 0, "redispatched": 1}
    assert credited == [3]


def test_a_commit_while_redis_is_down_keeps_its_event_and_raises_nothing(private_redis, caplog):
    with app_on_redis(private_redis.url):
        _eager(False)
        private_redis.stop()
        caplog.set_level(logging.WARNING, logger="core.outbox")
        # when: a change publishes an event and commits; the after-commit kick fails
        with transaction.atomic():
            event = publish_event("fault.credit", {"n": 9})
        # then: the commit stands, the failure is logged, and nothing was raised
        assert OutboxEvent.objects.filter(pk=event.pk, published_at__isnull=True).exists()
        assert any("outbox kick" in r.getMessage() for r in caplog.records)
        # and once Redis is back, beat's publisher run publishes it
        private_redis.start()
        _eager(True)
        assert publish_pending() == 1
    assert credited == [9]
