"""A real Celery worker (its broker and cache a private redis-server, its database the test
database) is killed with SIGKILL in the middle of draining a backlog of SMS lessons to the
local Twilio stand-in. The other worker finishes the drain: every lesson reaches the
provider, and a learner can have had one twice only where a send was in flight at the
kill, which is then flagged "possible duplicate" (counted at the stand-in)."""

import pytest
from celery import Celery
from django.db import connection

from delivery.models import AttemptStatus, DeliveryAttempt, DeliveryTask
from tests.delivery.conftest import FROM_NUMBER, lesson, providers  # noqa: F401
from tests.delivery.factories import DeliveryTaskFactory
from tests.delivery.fakes import TWILIO_SID, TWILIO_TOKEN
from tests.faults.support import CeleryWorker, wait_until
from tests.learners.factories import LearnerFactory

pytestmark = pytest.mark.django_db(transaction=True)

LESSONS = 24
CONCURRENCY = 2


def _worker_env(providers, redis_url: str) -> dict[str, str]:  # noqa: F811
    database = connection.settings_dict
    return {
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"  # pytest-django's test database (test_frontline_…)
        ),
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_URL": providers.url,
        "SLACK_BOT_TOKEN": "",
        "EMAIL_HOST": "",
        "DELIVERY_PUBLIC_BASE_URL": "https://frontline.example.com",
        "DELIVERY_RATE_SMS": "0",
        "DELIVERY_IN_FLIGHT_TIMEOUT_SECONDS": "2",
        "DELIVERY_DRAIN_CONCURRENCY": str(CONCURRENCY),
        "DELIVERY_DRAIN_BATCH_SECONDS": "1",
        "LOG_LEVEL": "INFO",  # the worker logs "ready." at INFO
    }


def _kick(redis_url: str) -> None:
    """What beat's drain tick does: one `delivery.drain` message on the deliveries queue."""
    # Not the current app: shared tasks would follow it to this (soon dead) broker.
    app = Celery(broker=redis_url, set_as_current=False)
    try:
        app.send_task("delivery.drain", queue="deliveries")
    finally:
        app.close()


def _accepted() -> int:
    return DeliveryTask.objects.filter(accepted_at__isnull=False).count()


def test_a_worker_killed_mid_drain_loses_nothing_and_flags_what_it_may_have_doubled(
    providers,  # noqa: F811
    lesson,  # noqa: F811
    private_redis,
):
    # given: 24 due SMS lessons, and a Twilio stand-in that takes 0.1 s per message
    learners = [LearnerFactory(preferred_channel="sms") for _ in range(LESSONS)]
    for learner in learners:
        DeliveryTaskFactory(learner=learner, microlesson=lesson)
    providers.delay("twilio", 0.1)
    env = _worker_env(providers, private_redis.url)

    # when: two workers of two processes each drain, and one of them is killed once six
    # messages went out (started together: each takes seconds to boot on a busy machine)
    doomed = CeleryWorker(env=env, concurrency=CONCURRENCY).start()
    survivor = CeleryWorker(env=env, concurrency=CONCURRENCY).start()
    try:
        wait_until(lambda: doomed.ready() and survivor.ready(), timeout=40)
        _kick(private_redis.url)
        wait_until(lambda: len(providers.accepted_for("twilio")) >= 6, timeout=40)
        doomed.kill()
        at_kill = len(providers.accepted_for("twilio"))
        # Chains the dead worker ran held their slots in the cache; those slots' TTL running
        # out, and the next beat tick, are what the survivor meets: here at once.
        client = private_redis.client()
        for key in client.scan_iter("*delivery:drain:slot:*"):
            client.delete(key)
        _kick(private_redis.url)
        wait_until(lambda: _accepted() == LESSONS, timeout=40)
    finally:
        doomed.kill()
        survivor.kill()

    # then: the first worker was stopped mid-drain, and every learner got the lesson
    assert at_kill < LESSONS, doomed.output()
    recipients = [r["body"]["To"] for r in providers.accepted_for("twilio")]
    assert set(recipients) == {learner.phone for learner in learners}
    # a second copy only where a send was in flight at the kill (at most one per process),
    # and each such task is flagged, with its lost attempt kept
    twice = {phone for phone in recipients if recipients.count(phone) > 1}
    flagged = DeliveryTask.objects.filter(possible_duplicate=True)
    flagged_phones = set(flagged.values_list("learner__phone", flat=True))
    assert twice <= flagged_phones
    assert len(flagged_phones) <= CONCURRENCY
    assert DeliveryAttempt.objects.filter(status=AttemptStatus.LOST).count() == flagged.count()
    assert not DeliveryAttempt.objects.filter(status=AttemptStatus.SENDING).exists()
    assert set(DeliveryTask.objects.values_list("state", flat=True)) == {"in_transit"}
