"""A worker process killed mid-batch (SIGKILL) loses nothing, and a send it may have made
twice is never silent: every task reaches the provider, counted at the local Twilio
server, and a task whose send was lost mid-call is sent again and flagged "possible
duplicate"."""

import multiprocessing
import os
import signal
import time

import pytest
from django.db import connections, transaction
from django.utils import timezone

from delivery.models import CLAIMABLE_STATES, AttemptStatus, DeliveryAttempt, DeliveryTask
from tests.delivery.factories import DeliveryTaskFactory
from tests.learners.factories import LearnerFactory

pytestmark = pytest.mark.django_db(transaction=True)

BATCH = 8


def _worker() -> None:
    """A sender process: drain everything due, as the Celery task body does."""
    from delivery.services import drain_due

    try:
        drain_due(limit=100)
    finally:
        connections.close_all()
    os._exit(0)


def _start_worker() -> multiprocessing.Process:
    connections.close_all()  # the child must open its own connection, not share ours
    process = multiprocessing.get_context("fork").Process(target=_worker, daemon=True)
    process.start()
    return process


def _wait_for(condition, *, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.005)


def _lockable(task_id: int) -> bool:
    with transaction.atomic():
        return DeliveryTask.objects.select_for_update(skip_locked=True).filter(pk=task_id).exists()


def _accepted_in_db() -> int:
    return DeliveryTask.objects.filter(accepted_at__isnull=False).count()


def _nothing_waits_on_an_in_flight_timeout() -> bool:
    return not DeliveryTask.objects.filter(
        state__in=CLAIMABLE_STATES, next_attempt_at__gt=timezone.now()
    ).exists()


def test_killed_mid_batch_every_task_goes_out_and_a_lost_send_is_flagged(live, lesson, settings):
    # given: 8 SMS lessons from one sender number, held to 4 messages/s by the shared limiter
    settings.DELIVERY_RATE_LIMITS = {"slack": 0, "sms": 4.0, "email": 0, "webhook": 0}
    settings.DELIVERY_RATE_WAIT_SECONDS = 30
    settings.DELIVERY_IN_FLIGHT_TIMEOUT_SECONDS = 1
    learners = [LearnerFactory(preferred_channel="sms") for _ in range(BATCH)]
    for learner in learners:
        DeliveryTaskFactory(learner=learner, microlesson=lesson)

    # when: a worker is killed once three sends are recorded, and another worker runs after
    first = _start_worker()
    _wait_for(lambda: _accepted_in_db() >= 3)
    os.kill(first.pid, signal.SIGKILL)
    first.join()
    sent_before_restart = len(live.accepted_for("twilio"))
    _wait_for(_nothing_waits_on_an_in_flight_timeout)
    second = _start_worker()
    second.join(timeout=120)

    # then: the first worker died mid-batch, and every learner got the lesson; a second
    # copy is possible only for the one send in flight at the kill, and is flagged
    assert first.exitcode == -signal.SIGKILL and second.exitcode == 0
    assert 3 <= sent_before_restart < BATCH
    recipients = [r["body"]["To"] for r in live.accepted_for("twilio")]
    assert set(recipients) == {learner.phone for learner in learners}
    twice = {phone for phone in recipients if recipients.count(phone) > 1}
    flagged = set(
        DeliveryTask.objects.filter(possible_duplicate=True).values_list(
            "learner__phone", flat=True
        )
    )
    assert len(flagged) <= 1 and twice <= flagged
    assert _accepted_in_db() == BATCH
    assert DeliveryAttempt.objects.exclude(status=AttemptStatus.LOST).count() == BATCH


def test_killed_during_a_provider_call_the_send_is_retried_once_and_flagged(live, lesson, settings):
    # given: the provider hangs, then fails the call the dying worker made
    settings.DELIVERY_RATE_LIMITS = {"slack": 0, "sms": 0, "email": 0, "webhook": 0}
    settings.DELIVERY_IN_FLIGHT_TIMEOUT_SECONDS = 1
    learner = LearnerFactory(preferred_channel="sms")
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)
    live.delay("twilio", 1.0)
    live.fail_next("twilio", "server_error")

    # when: the worker is killed while it waits on the provider
    first = _start_worker()
    _wait_for(lambda: len(live.requests) == 1)
    os.kill(first.pid, signal.SIGKILL)
    first.join()
    live.delay("twilio", 0)
    _wait_for(lambda: not live._failures["twilio"])  # the hung call has been answered

    # then: the attempt was committed as in flight before the call and is still there
    _wait_for(lambda: _lockable(task.pk))
    assert DeliveryTask.objects.get(pk=task.pk).state == "pending"
    assert list(DeliveryAttempt.objects.values_list("status", flat=True)) == ["sending"]
    # and after the in-flight timeout the next worker sends it once more, and flags it
    _wait_for(_nothing_waits_on_an_in_flight_timeout)
    second = _start_worker()
    second.join(timeout=60)
    assert second.exitcode == 0
    assert [r["body"]["To"] for r in live.accepted_for("twilio")] == [learner.phone]
    task = DeliveryTask.objects.get(pk=task.pk)
    assert task.provider_message_id and task.possible_duplicate
    statuses = list(task.attempts.order_by("number").values_list("status", flat=True))
    assert statuses == [AttemptStatus.LOST, AttemptStatus.PROCESSING]
    assert task.retry_count == 0  # a lost send spends no retry


def test_concurrent_workers_never_send_a_task_twice(live, lesson, settings):
    # given: 20 Slack lessons and a provider slow enough for the workers to overlap
    settings.DELIVERY_RATE_LIMITS = {"slack": 0, "sms": 0, "email": 0, "webhook": 0}
    learners = [LearnerFactory(preferred_channel="slack") for _ in range(20)]
    for learner in learners:
        DeliveryTaskFactory(learner=learner, microlesson=lesson)
    live.delay("slack", 0.02)

    # when: three workers drain at once
    workers = [_start_worker() for _ in range(3)]
    for worker in workers:
        worker.join(timeout=120)

    # then: each learner got exactly one message, and each task one attempt
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    recipients = sorted(r["body"]["channel"] for r in live.accepted_for("slack"))
    assert recipients == sorted(learner.slack_user_id for learner in learners)
    assert DeliveryAttempt.objects.count() == 20
    assert set(DeliveryTask.objects.values_list("state", flat=True)) == {"delivered"}
