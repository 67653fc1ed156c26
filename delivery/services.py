"""
Sending: claim a due task under a row lock, send it, record the attempt, commit.

Each task is sent inside one transaction that holds `SELECT … FOR UPDATE SKIP LOCKED` on
its row for the whole provider call, and the provider's acceptance is written in that same
transaction before it commits (and before the Celery message is acknowledged: acks_late).
So a worker that dies before the commit loses nothing (PostgreSQL rolls back and frees the
row; the next drain claims it again) and other workers never send a locked task. The one
duplicate window left is between the provider accepting the message and our COMMIT.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from assessments.selectors import next_lesson_for
from core.outbox import publish_event
from core.resilience import RateLimiter, RateLimitExceeded
from delivery import messages
from delivery.channels import ChannelError, Reason, SinkChannel, get_channel
from delivery.errors import TaskStateError
from delivery.models import (
    CLAIMABLE_STATES,
    AttemptStatus,
    ConsentRecord,
    DeliveryAttempt,
    DeliveryTask,
    TaskKind,
    TaskState,
)
from delivery.router import Route, routes_for
from learners import services as learner_services
from learners.models import Learner

logger = logging.getLogger(__name__)

TEMPORARY = "temporary"
PERMANENT = "permanent"


@dataclass(frozen=True)
class SendOutcome:
    task_id: int
    result: str  # accepted, retry_scheduled, fallback, failed, dead_lettered, deferred, cancelled
    channel: str = ""


# --- rate limits --------------------------------------------------------------------------


def rate_limiter(channel: str) -> RateLimiter:
    rate = float(settings.DELIVERY_RATE_LIMITS.get(channel, 0) or 0)
    return RateLimiter(name=f"delivery.{channel}", rate=rate, per=1.0, burst=1)


# --- claiming -----------------------------------------------------------------------------


def _due(now: datetime.datetime):
    return DeliveryTask.objects.filter(state__in=CLAIMABLE_STATES, next_attempt_at__lte=now)


def task_send(*, task_id: int, now: datetime.datetime | None = None) -> SendOutcome | None:
    """Send one task if it is due and no other worker holds it; None otherwise.

    Safe to call any number of times for the same task (a redelivered Celery message):
    a task already sent is no longer claimable, so nothing goes out twice.
    """
    with transaction.atomic():
        now = now or timezone.now()
        task = (
            _due(now)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("learner", "microlesson")
            .filter(pk=task_id)
            .first()
        )
        if task is None:
            return None
        return _send_locked(task, now=now)


def send_next_due(*, now: datetime.datetime | None = None) -> SendOutcome | None:
    """Claim the oldest due task nobody else holds and send it; None when nothing is due."""
    with transaction.atomic():
        now = now or timezone.now()
        task = (
            _due(now)
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("next_attempt_at", "id")
            .select_related("learner", "microlesson")
            .first()
        )
        if task is None:
            return None
        return _send_locked(task, now=now)


def drain_due(*, limit: int | None = None) -> dict[str, int]:
    """Send due tasks one by one until none is due (or `limit` were handled)."""
    limit = limit or settings.DELIVERY_DRAIN_BATCH
    counts: dict[str, int] = {}
    deferred: set[int] = set()
    for _ in range(limit):
        outcome = send_next_due()
        if outcome is None:
            break
        counts[outcome.result] = counts.get(outcome.result, 0) + 1
        if outcome.result == "deferred":
            # Rate limited: put back for later; stop once only deferred tasks remain.
            if outcome.task_id in deferred:
                break
            deferred.add(outcome.task_id)
    return counts


# --- one send -------------------------------------------------------------------------------


def _event_payload(task: DeliveryTask, **extra) -> dict:
    return {
        "task_id": task.pk,
        "learner_id": task.learner_id,
        "kind": task.kind,
        "channel": task.channel,
        "microlesson_id": task.microlesson_id,
        "local_date": task.local_date.isoformat(),
        **extra,
    }


def _publish_failed(task: DeliveryTask, **extra) -> None:
    if task.kind == TaskKind.LESSON:
        publish_event("lesson.failed", _event_payload(task, **extra))


def _save(task: DeliveryTask, *fields: str) -> None:
    task.save(update_fields=[*fields, "state", "updated_at"])


def _record_attempt(task: DeliveryTask, route: Route, **fields) -> DeliveryAttempt:
    number = task.attempts.count() + 1
    return DeliveryAttempt.objects.create(
        task=task,
        number=number,
        channel=route.channel,
        address=route.address,
        retry_count=task.retry_count,
        **fields,
    )


def _cancel(task: DeliveryTask, reason: str) -> SendOutcome:
    task.cancel()
    task.last_error = reason
    task.next_attempt_at = None
    _save(task, "last_error", "next_attempt_at")
    return SendOutcome(task.pk, "cancelled", task.channel)


def _budget_allows(task: DeliveryTask, channel: str) -> bool:
    """Reminders and notices stay within the per-person daily budget; lessons always go."""
    if task.kind == TaskKind.LESSON:
        return True
    sent = (
        DeliveryTask.objects.filter(
            learner_id=task.learner_id, local_date=task.local_date, accepted_at__isnull=False
        )
        .exclude(pk=task.pk)
        .aggregate(total=Count("pk"), sms=Count("pk", filter=Q(channel="sms")))
    )
    if sent["total"] >= settings.DELIVERY_DAILY_BUDGET:
        return False
    return channel != "sms" or sent["sms"] < settings.DELIVERY_DAILY_SMS_BUDGET


def _choose_route(task: DeliveryTask, learner: Learner) -> Route | None:
    for route in routes_for(learner, exclude=task.channels_tried):
        if _budget_allows(task, route.channel):
            return route
    return None


def _give_up(task: DeliveryTask, *, now, reason: str) -> SendOutcome:
    """No channel left: the task ends failed (or dead-lettered if it was returned)."""
    task.next_attempt_at = None
    task.failed_at = now
    task.last_error = reason
    if task.state == TaskState.PENDING:
        task.mark_failed()
        result = "failed"
    elif task.state == TaskState.RETURNED:
        task.dead_letter()
        result = "dead_lettered"
    else:
        result = "failed"
    _save(task, "next_attempt_at", "failed_at", "last_error")
    _publish_failed(task, reason=reason)
    return SendOutcome(task.pk, result, task.channel)


def _send_locked(task: DeliveryTask, *, now: datetime.datetime) -> SendOutcome:
    learner = task.learner
    if task.kind == TaskKind.LESSON and task.microlesson_id is None:
        chosen = next_lesson_for(learner, now=now)
        if chosen.microlesson is None:
            return _cancel(task, f"nothing to send: {chosen.reason}")
        task.microlesson = chosen.microlesson
        task.render_context = {"lesson_kind": chosen.kind, "source": chosen.source or ""}
        task.save(update_fields=["microlesson", "render_context", "updated_at"])

    route = _choose_route(task, learner)
    if route is None:
        if task.kind != TaskKind.LESSON and task.state == TaskState.PENDING:
            return _cancel(task, "over the daily contact budget or unreachable")
        return _give_up(task, now=now, reason="no reachable channel")

    channel = get_channel(route.channel)
    try:
        rate_limiter(route.channel).acquire(
            channel.rate_limit_key(route.address), timeout=settings.DELIVERY_RATE_WAIT_SECONDS
        )
    except RateLimitExceeded as exc:
        task.next_attempt_at = now + datetime.timedelta(seconds=max(exc.extra["retry_after"], 1))
        task.save(update_fields=["next_attempt_at", "updated_at"])
        return SendOutcome(task.pk, "deferred", route.channel)

    previous_channel = task.channel
    if task.state == TaskState.PENDING:
        task.ship()
    else:
        task.retry_delivery()
    task.channel, task.address = route.channel, route.address
    if previous_channel and previous_channel != route.channel:
        publish_event(
            "channel.changed",
            _event_payload(task, previous_channel=previous_channel, reason=task.last_error),
        )

    message = messages.render(task, route.channel)
    try:
        result = channel.send(route.address, message)
    except ChannelError as exc:
        return _failed(task, route, exc, now=now)
    except Exception as exc:  # a provider SDK surprise: keep the task, retry later
        logger.exception("unexpected send error", extra={"task": task.pk})
        error = ChannelError(f"{type(exc).__name__}: {exc}", reason=Reason.CONNECTION)
        return _failed(task, route, error, now=now)

    sent_at = timezone.now()
    # SMS through Twilio is confirmed by its status callback; everything else is delivered
    # once the provider accepts it.
    awaits_callback = route.channel == "sms" and not isinstance(channel, SinkChannel)
    task.provider_message_id = result.provider_message_id
    task.accepted_at = sent_at
    task.next_attempt_at = None
    task.last_error = ""
    task.error_category = ""
    if not awaits_callback:
        task.deliver()
        task.delivered_at = sent_at
    _save(
        task,
        "channel",
        "address",
        "provider_message_id",
        "accepted_at",
        "delivered_at",
        "next_attempt_at",
        "last_error",
        "error_category",
    )
    _record_attempt(
        task,
        route,
        status=AttemptStatus.PROCESSING if awaits_callback else AttemptStatus.DELIVERED,
        provider_message_id=result.provider_message_id,
        latency_ms=result.latency_ms,
        metadata=result.response,
        delivered_at=None if awaits_callback else sent_at,
    )
    if task.kind == TaskKind.LESSON:
        publish_event("lesson.sent", _event_payload(task))
        if not awaits_callback:
            publish_event("lesson.delivered", _event_payload(task))
    elif task.kind == TaskKind.REMINDER:
        publish_event("reminder.sent", _event_payload(task, sequence=task.sequence))
    return SendOutcome(task.pk, "accepted", route.channel)


def _failed(
    task: DeliveryTask, route: Route, exc: ChannelError, *, now: datetime.datetime
) -> SendOutcome:
    task.mark_failed()
    task.last_error = str(exc)[:2000]
    task.error_category = exc.category
    _record_attempt(
        task,
        route,
        status=AttemptStatus.FAILED,
        error_category=exc.category,
        error_reason=exc.reason,
        error_message=str(exc)[:2000],
        latency_ms=None,
        metadata=exc.as_metadata(),
    )
    if exc.is_temporary:
        delays = settings.DELIVERY_RETRY_DELAYS
        if task.retry_count < len(delays):
            wait = max(delays[task.retry_count], exc.retry_after or 0)
            task.retry_count += 1
            task.next_attempt_at = now + datetime.timedelta(seconds=wait)
            _save(
                task,
                "channel",
                "address",
                "last_error",
                "error_category",
                "retry_count",
                "next_attempt_at",
            )
            return SendOutcome(task.pk, "retry_scheduled", route.channel)
        task.dead_letter()
        task.next_attempt_at = None
        task.failed_at = now
        _save(
            task,
            "channel",
            "address",
            "last_error",
            "error_category",
            "next_attempt_at",
            "failed_at",
        )
        _publish_failed(task, reason=exc.reason, dead_lettered=True)
        return SendOutcome(task.pk, "dead_lettered", route.channel)

    # Permanent: this channel cannot work; fall back to the next one at once.
    if exc.reason == Reason.UNSUBSCRIBED and route.channel == "sms":
        consent_change(
            learner=task.learner,
            channel="sms",
            opted_out=True,
            method=ConsentRecord.Method.PROVIDER,
            message=str(exc),
        )
    task.channels_tried = [*task.channels_tried, route.channel]
    return _fall_back_or_fail(task, now=now, reason=exc.reason)


def _fall_back_or_fail(task: DeliveryTask, *, now, reason: str) -> SendOutcome:
    task.learner.refresh_from_db()
    following = _choose_route(task, task.learner)
    fields = (
        "channel",
        "address",
        "channels_tried",
        "last_error",
        "error_category",
        "retry_count",
        "next_attempt_at",
    )
    if following is not None:
        task.retry_count = 0
        task.next_attempt_at = now
        _save(task, *fields)
        return SendOutcome(task.pk, "fallback", following.channel)
    task.next_attempt_at = None
    task.failed_at = now
    if task.state == TaskState.RETURNED:
        task.dead_letter()
    _save(task, *fields, "failed_at")
    _publish_failed(task, reason=reason)
    return SendOutcome(task.pk, "failed", task.channel)


# --- provider reports -----------------------------------------------------------------------

TWILIO_FINAL_OK = {"delivered", "read"}
TWILIO_FINAL_BAD = {"undelivered", "failed"}


@transaction.atomic
def task_report_status(
    *, provider_message_id: str, status: str, error_code: str = "", now=None
) -> tuple[DeliveryTask | None, str]:
    """Apply a provider's delivery report (Twilio status callback). Idempotent: a repeated
    or out-of-date report (e.g. "sent" after "delivered") changes nothing."""
    now = now or timezone.now()
    task = (
        DeliveryTask.objects.select_for_update()
        .select_related("learner")
        .filter(provider_message_id=provider_message_id)
        .first()
    )
    if task is None:
        return None, "unknown_message"
    attempt = (
        task.attempts.filter(provider_message_id=provider_message_id).order_by("-number").first()
    )
    if task.state != TaskState.IN_TRANSIT:
        return task, "stale"
    if status in TWILIO_FINAL_OK:
        task.deliver()
        task.delivered_at = now
        _save(task, "delivered_at")
        if attempt:
            attempt.status = AttemptStatus.DELIVERED
            attempt.delivered_at = now
            attempt.metadata = {**attempt.metadata, "callback_status": status}
            attempt.save(update_fields=["status", "delivered_at", "metadata", "updated_at"])
        if task.kind == TaskKind.LESSON:
            publish_event("lesson.delivered", _event_payload(task))
        return task, "delivered"
    if status in TWILIO_FINAL_BAD:
        task.return_to_sender()
        task.last_error = f"provider reported {status} ({error_code or 'no code'})"
        task.error_category = PERMANENT
        task.channels_tried = [*task.channels_tried, task.channel]
        if attempt:
            attempt.status = AttemptStatus.FAILED
            attempt.error_category = PERMANENT
            attempt.error_reason = (
                Reason.INVALID_RECIPIENT if status == "undelivered" else Reason.UNKNOWN
            )
            attempt.metadata = {
                **attempt.metadata,
                "callback_status": status,
                "error_code": error_code,
            }
            attempt.save(
                update_fields=["status", "error_category", "error_reason", "metadata", "updated_at"]
            )
        if error_code == "21610":
            consent_change(
                learner=task.learner,
                channel="sms",
                opted_out=True,
                method=ConsentRecord.Method.PROVIDER,
                message=task.last_error,
            )
        outcome = _fall_back_or_fail(task, now=now, reason=status)
        return task, f"returned_{outcome.result}"
    return task, "progress"


# --- consent --------------------------------------------------------------------------------


@transaction.atomic
def consent_change(
    *,
    learner: Learner,
    channel: str,
    opted_out: bool,
    method: str,
    message: str = "",
    acting_user=None,
) -> ConsentRecord:
    """Opt a learner out of (or back into) a channel and keep the consent record."""
    learner_services.learner_set_channel_opt_out(
        learner=learner, channel=channel, opted_out=opted_out
    )
    address = {"sms": learner.phone, "slack": learner.slack_user_id, "email": learner.email}
    return ConsentRecord.objects.create(
        learner=learner,
        channel=channel,
        action=ConsentRecord.Action.OPT_OUT if opted_out else ConsentRecord.Action.OPT_IN,
        method=method,
        message=message[:2000],
        address=address.get(channel, ""),
        acting_user=acting_user,
    )


@transaction.atomic
def consent_change_for_address(
    *, channel: str, address: str, opted_out: bool, method: str, message: str = ""
) -> list[ConsentRecord]:
    """An instruction from an address (an SMS STOP/START from a number) applies to every
    learner on that address (learners.services), one consent record each."""
    learners = learner_services.learner_consent_set_for_address(
        channel=channel, address=address, opted_out=opted_out
    )
    return [
        ConsentRecord.objects.create(
            learner=learner,
            channel=channel,
            action=ConsentRecord.Action.OPT_OUT if opted_out else ConsentRecord.Action.OPT_IN,
            method=method,
            message=message[:2000],
            address=address,
            sender=address,
        )
        for learner in learners
    ]


# --- staff ----------------------------------------------------------------------------------


@transaction.atomic
def task_requeue(*, task: DeliveryTask, acting_user=None) -> DeliveryTask:
    """Put a dead-lettered (or failed) task back in the queue with fresh retries."""
    task = DeliveryTask.objects.select_for_update().get(pk=task.pk)
    try:
        task.requeue()
    except TransitionNotAllowed as exc:
        raise TaskStateError(f"Task {task.pk} is {task.state}; only dead letters requeue.") from exc
    task.retry_count = 0
    task.channels_tried = []
    task.next_attempt_at = timezone.now()
    task.failed_at = None
    _save(task, "retry_count", "channels_tried", "next_attempt_at", "failed_at")
    return task
