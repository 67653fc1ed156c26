"""
Sending: claim a due task, record the attempt as in flight, call the provider, record
the outcome.

1. Claim (one short transaction): the oldest due task nobody holds
   (`SELECT … FOR UPDATE SKIP LOCKED`), its route, the channel's circuit breaker and the
   shared rate limit are checked, and an attempt is committed with status "sending" while
   the task's next_attempt_at moves one in-flight timeout ahead (so no one else claims it).
2. The provider call, outside any transaction.
3. Settle (a second transaction): the task and its attempt take the provider's answer.

A worker that dies in step 2 leaves the in-flight attempt behind, and so the duplicate
window is visible rather than silent: once the in-flight timeout has passed the task is
due again, the next claim marks that attempt "lost", flags the task "possible duplicate"
and sends it again. A task whose channel's breaker is open is deferred until the breaker
half-opens without an attempt, so an outage spends no retries; the other due tasks of
that channel are deferred with it in one statement.
"""

from __future__ import annotations

import datetime
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from assessments.selectors import next_lesson_for
from core.outbox import publish_event
from core.resilience import CircuitBreaker, RateLimiter, RateLimitExceeded
from delivery import messages
from delivery.channels import (
    Channel,
    ChannelError,
    OutboundMessage,
    Reason,
    SendResult,
    SinkChannel,
    SmsChannel,
    get_channel,
    is_configured,
)
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

# While a half-open breaker's one trial call is out, other tasks look again this soon.
HALF_OPEN_RECHECK_SECONDS = 2.0
# Due tasks of one channel deferred together when its breaker is found open.
DEFER_BATCH = 5000


@dataclass(frozen=True)
class SendOutcome:
    task_id: int
    # accepted, retry_scheduled, fallback, failed, dead_lettered, deferred, circuit_open,
    # in_flight, cancelled, superseded
    result: str
    channel: str = ""


@dataclass(frozen=True)
class _Claim:
    """A send committed as in flight, to be made outside any transaction."""

    task_id: int
    attempt_id: int
    route: Route
    channel: Channel
    message: OutboundMessage


# --- rate limits --------------------------------------------------------------------------


def rate_limiter(channel: str) -> RateLimiter:
    rate = float(settings.DELIVERY_RATE_LIMITS.get(channel, 0) or 0)
    return RateLimiter(name=f"delivery.{channel}", rate=rate, per=1.0, burst=1)


# --- claiming -----------------------------------------------------------------------------


def _due(now: datetime.datetime):
    return DeliveryTask.objects.filter(state__in=CLAIMABLE_STATES, next_attempt_at__lte=now)


def _in_flight_timeout() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.DELIVERY_IN_FLIGHT_TIMEOUT_SECONDS)


def task_send(*, task_id: int, now: datetime.datetime | None = None) -> SendOutcome | None:
    """Send one task if it is due and no other worker holds it; None otherwise.

    Safe to call any number of times for the same task (a redelivered Celery message):
    a task already sent, or in flight, is not due, so nothing goes out twice.
    """
    now = now or timezone.now()
    with transaction.atomic():
        task = (
            _due(now)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("learner", "microlesson")
            .filter(pk=task_id)
            .first()
        )
        if task is None:
            return None
        step = _claim_locked(task, now=now)
    return step if isinstance(step, SendOutcome) else _send_claimed(step, now=now)


def send_next_due(*, now: datetime.datetime | None = None) -> SendOutcome | None:
    """Claim the oldest due task nobody else holds and send it; None when nothing is due."""
    now = now or timezone.now()
    with transaction.atomic():
        task = (
            _due(now)
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("next_attempt_at", "id")
            .select_related("learner", "microlesson")
            .first()
        )
        if task is None:
            return None
        step = _claim_locked(task, now=now)
    return step if isinstance(step, SendOutcome) else _send_claimed(step, now=now)


@dataclass(frozen=True)
class DrainResult:
    counts: dict[str, int]
    more: bool  # stopped at its limit or time budget with work still due


def drain_batch(*, limit: int | None = None, seconds: float | None = None) -> DrainResult:
    """Send due tasks one by one until none is due, or `limit` were handled, or `seconds`
    have passed (then `more` says so, and the caller queues the next batch)."""
    limit = limit or settings.DELIVERY_DRAIN_BATCH
    deadline = time.monotonic() + seconds if seconds else None
    counts: dict[str, int] = {}
    deferred: set[int] = set()
    handled = 0
    while handled < limit:
        if deadline is not None and time.monotonic() >= deadline:
            return DrainResult(counts, more=True)
        outcome = send_next_due()
        if outcome is None:
            return DrainResult(counts, more=False)
        handled += 1
        counts[outcome.result] = counts.get(outcome.result, 0) + 1
        if outcome.result == "deferred":
            # Rate limited: put back for later; stop once only deferred tasks remain.
            if outcome.task_id in deferred:
                return DrainResult(counts, more=False)
            deferred.add(outcome.task_id)
    return DrainResult(counts, more=True)


def drain_due(*, limit: int | None = None) -> dict[str, int]:
    """Send due tasks one by one until none is due (or `limit` were handled)."""
    return drain_batch(limit=limit).counts


def next_due_at() -> datetime.datetime | None:
    """When the soonest claimable task falls due (None: nothing is scheduled)."""
    return (
        DeliveryTask.objects.filter(state__in=CLAIMABLE_STATES, next_attempt_at__isnull=False)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )


# --- step 1: claim ----------------------------------------------------------------------------


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


def _recover_lost(
    task: DeliveryTask, attempts: list[tuple[int, str, datetime.datetime]], *, now
) -> SendOutcome | None:
    """An attempt still "sending" when its task is claimed again lost its worker mid-call:
    mark it lost and flag the task (the provider may have the message already). One whose
    in-flight timeout has not passed yet may still be waiting on the provider: leave it."""
    in_flight = [(pk, created_at) for pk, status, created_at in attempts if status == "sending"]
    if not in_flight:
        return None
    timeout = _in_flight_timeout()
    youngest = max(created_at for _pk, created_at in in_flight)
    if youngest > now - timeout:
        task.next_attempt_at = youngest + timeout
        task.save(update_fields=["next_attempt_at", "updated_at"])
        return SendOutcome(task.pk, "in_flight", task.channel)
    lost_ids = [pk for pk, _created_at in in_flight]
    DeliveryAttempt.objects.filter(pk__in=lost_ids).update(
        status=AttemptStatus.LOST,
        error_message="The sender stopped during the provider call; the outcome is unknown.",
        updated_at=timezone.now(),
    )
    task.possible_duplicate = True
    task.save(update_fields=["possible_duplicate", "updated_at"])
    logger.warning(
        "delivery attempt lost in flight; sending again",
        extra={"task": task.pk, "attempts": lost_ids},
    )
    return None


def _defer_for_open_circuit(
    task: DeliveryTask, route: Route, breaker: CircuitBreaker, *, now: datetime.datetime
) -> SendOutcome:
    """Reschedule `task`, and the other due tasks bound for the same channel, for when the
    breaker half-opens: no attempt is recorded and no retry is spent."""
    wait = breaker.retry_after() or HALF_OPEN_RECHECK_SECONDS
    until = now + datetime.timedelta(seconds=wait)
    task.next_attempt_at = until
    task.save(update_fields=["next_attempt_at", "updated_at"])
    # Webhook breakers are per host, not per channel; JSON containment needs PostgreSQL
    # (in embedded SQLite mode each task is deferred when it comes up, which also works).
    if route.channel != "webhook" and connection.vendor == "postgresql":
        bound_here = Q(channel=route.channel) & ~Q(channels_tried__contains=[route.channel])
        not_sent_yet = Q(channel="", learner__preferred_channel=route.channel)
        ids = list(
            _due(now)
            .filter(bound_here | not_sent_yet)
            .exclude(pk=task.pk)
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:DEFER_BATCH]
        )
        if ids:
            DeliveryTask.objects.filter(pk__in=ids).update(next_attempt_at=until, updated_at=now)
        logger.info(
            "circuit open: sends deferred",
            extra={"circuit": breaker.name, "deferred": len(ids) + 1, "until": until},
        )
    return SendOutcome(task.pk, "circuit_open", route.channel)


def _record_attempt(
    task: DeliveryTask, route: Route, *, number: int | None = None, **fields
) -> DeliveryAttempt:
    number = number or task.attempts.count() + 1
    return DeliveryAttempt.objects.create(
        task=task,
        number=number,
        channel=route.channel,
        address=route.address,
        retry_count=task.retry_count,
        **fields,
    )


def _claim_locked(task: DeliveryTask, *, now: datetime.datetime) -> SendOutcome | _Claim:
    """Step 1, with the task's row locked: decide, then commit the attempt as in flight."""
    attempts = list(task.attempts.values_list("pk", "status", "created_at"))
    lost = _recover_lost(task, attempts, now=now)
    if lost is not None:
        return lost
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
    breaker = channel.breaker(route.address)
    state = breaker.state if breaker is not None else CircuitBreaker.CLOSED
    if state == CircuitBreaker.OPEN:
        return _defer_for_open_circuit(task, route, breaker, now=now)
    try:
        rate_limiter(route.channel).acquire(
            channel.rate_limit_key(route.address), timeout=settings.DELIVERY_RATE_WAIT_SECONDS
        )
    except RateLimitExceeded as exc:
        task.next_attempt_at = now + datetime.timedelta(seconds=max(exc.extra["retry_after"], 1))
        task.save(update_fields=["next_attempt_at", "updated_at"])
        return SendOutcome(task.pk, "deferred", route.channel)
    if state == CircuitBreaker.HALF_OPEN and not breaker.allow():  # its one trial is out
        return _defer_for_open_circuit(task, route, breaker, now=now)

    attempt = _record_attempt(task, route, number=len(attempts) + 1, status=AttemptStatus.SENDING)
    message = messages.render(task, route.channel, attempt=attempt)
    task.next_attempt_at = now + _in_flight_timeout()
    task.save(update_fields=["next_attempt_at", "updated_at"])
    return _Claim(task.pk, attempt.pk, route, channel, message)


# --- step 2: the provider call ----------------------------------------------------------------


def _send_claimed(claim: _Claim, *, now: datetime.datetime) -> SendOutcome:
    result: SendResult | None = None
    error: ChannelError | None = None
    try:
        result = claim.channel.send(claim.route.address, claim.message, admitted=True)
    except ChannelError as exc:
        error = exc
    except Exception as exc:  # a provider SDK surprise: keep the task, retry later
        logger.exception("unexpected send error", extra={"task": claim.task_id})
        error = ChannelError(f"{type(exc).__name__}: {exc}", reason=Reason.CONNECTION)
    return _settle(claim, result=result, error=error, now=now)


# --- step 3: settle ---------------------------------------------------------------------------


def _settle(
    claim: _Claim,
    *,
    result: SendResult | None,
    error: ChannelError | None,
    now: datetime.datetime,
) -> SendOutcome:
    with transaction.atomic():
        task = (
            DeliveryTask.objects.select_for_update(of=("self",))
            .select_related("learner", "microlesson")
            .get(pk=claim.task_id)
        )
        attempt = DeliveryAttempt.objects.select_for_update().get(pk=claim.attempt_id)
        route = claim.route
        if attempt.status != AttemptStatus.SENDING or task.state not in CLAIMABLE_STATES:
            # Taken for lost and sent again, or cancelled by staff, while we were calling:
            # keep what the provider said on the attempt; the task has moved on.
            _complete_attempt(attempt, result=result, error=error, awaits_callback=False)
            logger.warning(
                "delivery attempt settled after its task moved on",
                extra={"task": task.pk, "attempt": attempt.pk, "state": task.state},
            )
            return SendOutcome(task.pk, "superseded", route.channel)

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
        if error is not None:
            return _failed(task, attempt, route, error, now=now)
        return _accepted(task, attempt, route, claim.channel, result, now=now)


def _complete_attempt(
    attempt: DeliveryAttempt,
    *,
    result: SendResult | None,
    error: ChannelError | None,
    awaits_callback: bool,
) -> None:
    early = attempt.metadata.get("early_reports") if isinstance(attempt.metadata, dict) else None
    if error is not None:
        attempt.status = AttemptStatus.FAILED
        attempt.error_category = error.category
        attempt.error_reason = error.reason
        attempt.error_message = str(error)[:2000]
        attempt.metadata = error.as_metadata()
    else:
        sent_at = timezone.now()
        attempt.status = AttemptStatus.PROCESSING if awaits_callback else AttemptStatus.DELIVERED
        attempt.provider_message_id = result.provider_message_id
        attempt.latency_ms = result.latency_ms
        attempt.metadata = dict(result.response)
        attempt.delivered_at = None if awaits_callback else sent_at
    if early:
        attempt.metadata["early_reports"] = early
    attempt.save()


def _accepted(
    task: DeliveryTask,
    attempt: DeliveryAttempt,
    route: Route,
    channel: Channel,
    result: SendResult,
    *,
    now: datetime.datetime,
) -> SendOutcome:
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
    _complete_attempt(attempt, result=result, error=None, awaits_callback=awaits_callback)
    if task.kind == TaskKind.LESSON:
        publish_event("lesson.sent", _event_payload(task))
        if not awaits_callback:
            publish_event("lesson.delivered", _event_payload(task))
    elif task.kind == TaskKind.REMINDER:
        publish_event("reminder.sent", _event_payload(task, sequence=task.sequence))
    # Status callbacks that came before this commit were kept on the attempt: apply them.
    for report in attempt.metadata.get("early_reports") or []:
        if task.state != TaskState.IN_TRANSIT:
            break
        _apply_report(
            task, attempt, status=report.get("status", ""), error_code=report.get("error_code", "")
        )
    return SendOutcome(task.pk, "accepted", route.channel)


def _failed(
    task: DeliveryTask,
    attempt: DeliveryAttempt,
    route: Route,
    exc: ChannelError,
    *,
    now: datetime.datetime,
) -> SendOutcome:
    task.mark_failed()
    task.last_error = str(exc)[:2000]
    task.error_category = exc.category
    _complete_attempt(attempt, result=None, error=exc, awaits_callback=False)
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
        "reconciled_at",
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


def _apply_report(
    task: DeliveryTask, attempt: DeliveryAttempt | None, *, status: str, error_code: str = ""
) -> str:
    """A delivery report for an in-transit task (callback, early callback or fetched)."""
    now = timezone.now()
    if status in TWILIO_FINAL_OK:
        task.deliver()
        task.delivered_at = now
        _save(task, "delivered_at", "reconciled_at")
        if attempt:
            attempt.status = AttemptStatus.DELIVERED
            attempt.delivered_at = now
            attempt.metadata = {**attempt.metadata, "callback_status": status}
            attempt.save(update_fields=["status", "delivered_at", "metadata", "updated_at"])
        if task.kind == TaskKind.LESSON:
            publish_event("lesson.delivered", _event_payload(task))
        return "delivered"
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
        return f"returned_{outcome.result}"
    return "progress"


@transaction.atomic
def task_report_status(
    *,
    provider_message_id: str,
    status: str,
    error_code: str = "",
    attempt_id: int | None = None,
    now=None,
) -> tuple[DeliveryTask | None, str]:
    """Apply a provider's delivery report (Twilio status callback). Idempotent: a repeated
    or out-of-date report (e.g. "sent" after "delivered") changes nothing.

    Our status callback URLs name the attempt, which is committed before the provider is
    called: a report that arrives before the send's own commit finds the attempt still in
    flight, is kept on it, and is applied when the send commits (both lock the task row
    first, then the attempt, so one waits for the other)."""
    attempt = None
    if attempt_id is not None:
        task_id = (
            DeliveryAttempt.objects.filter(pk=attempt_id).values_list("task_id", flat=True).first()
        )
        if task_id is not None:
            task = (
                DeliveryTask.objects.select_for_update(of=("self",))
                .select_related("learner")
                .get(pk=task_id)
            )
            attempt = DeliveryAttempt.objects.select_for_update().get(pk=attempt_id)
            if attempt.status == AttemptStatus.SENDING:
                reports = list(attempt.metadata.get("early_reports") or [])
                reports.append(
                    {
                        "sid": provider_message_id,
                        "status": status,
                        "error_code": error_code,
                        "received_at": timezone.now().isoformat(),
                    }
                )
                attempt.metadata = {**attempt.metadata, "early_reports": reports}
                attempt.save(update_fields=["metadata", "updated_at"])
                return task, "kept_early"
    if attempt is None:
        task = (
            DeliveryTask.objects.select_for_update(of=("self",))
            .select_related("learner")
            .filter(provider_message_id=provider_message_id)
            .first()
        )
        if task is None:
            return None, "unknown_message"
        attempt = (
            task.attempts.select_for_update()
            .filter(provider_message_id=provider_message_id)
            .order_by("-number")
            .first()
        )
    if attempt is not None and attempt.status == AttemptStatus.LOST:
        attempt.metadata = {**attempt.metadata, "callback_status": status}
        attempt.save(update_fields=["metadata", "updated_at"])
        return task, "lost_attempt_report"
    current = attempt is None or attempt.provider_message_id == task.provider_message_id
    if task.state != TaskState.IN_TRANSIT or not current:
        return task, "stale"
    return task, _apply_report(task, attempt, status=status, error_code=error_code)


# --- reconciling tasks stuck in transit -------------------------------------------------------


def in_transit_overdue(*, now: datetime.datetime | None = None):
    """Tasks in transit past DELIVERY_IN_TRANSIT_DEADLINE_SECONDS, oldest first."""
    now = now or timezone.now()
    deadline = now - datetime.timedelta(seconds=settings.DELIVERY_IN_TRANSIT_DEADLINE_SECONDS)
    return (
        DeliveryTask.objects.filter(state=TaskState.IN_TRANSIT)
        .filter(Q(accepted_at__lt=deadline) | Q(accepted_at__isnull=True, updated_at__lt=deadline))
        .order_by("accepted_at", "id")
    )


def reconcile_in_transit(
    *, now: datetime.datetime | None = None, limit: int = 500
) -> dict[str, int]:
    """Settle tasks stuck in transit (a lost status callback, an unreachable callback URL)."""
    now = now or timezone.now()
    counts: dict[str, int] = {}
    for task_id in list(in_transit_overdue(now=now).values_list("pk", flat=True)[:limit]):
        outcome = task_reconcile(task_id=task_id, now=now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _fetch_twilio_status(task: DeliveryTask) -> dict | ChannelError | None:
    if task.channel != "sms" or not task.provider_message_id or not is_configured("sms"):
        return None
    channel = get_channel("sms")
    if not isinstance(channel, SmsChannel):
        return None
    try:
        return channel.fetch_status(task.provider_message_id)
    except ChannelError as exc:
        return exc


def task_reconcile(*, task_id: int, now: datetime.datetime | None = None) -> str:
    """One task in transit past its deadline. Twilio: its status is fetched and applied
    ("sent" counts as delivered: the carrier took it and sends no receipt); a message
    Twilio does not know returns the task (fallback or failure). Slack, email and the
    sink have no later status: accepted means delivered, not accepted means failed and
    retried (its attempts unspent)."""
    now = now or timezone.now()
    probe = DeliveryTask.objects.filter(pk=task_id, state=TaskState.IN_TRANSIT).first()
    if probe is None:
        return "not_in_transit"
    fetched = _fetch_twilio_status(probe)  # network call: outside the transaction
    with transaction.atomic():
        task = (
            DeliveryTask.objects.select_for_update(of=("self",))
            .select_related("learner")
            .filter(pk=task_id, state=TaskState.IN_TRANSIT)
            .first()
        )
        if task is None:
            return "not_in_transit"
        attempt = (
            task.attempts.select_for_update()
            .filter(provider_message_id=task.provider_message_id)
            .order_by("-number")
            .first()
            if task.provider_message_id
            else None
        )
        task.reconciled_at = now
        if isinstance(fetched, ChannelError):
            if fetched.is_temporary:
                return "provider_unavailable"  # try again on the next run
            if attempt:
                attempt.metadata = {**attempt.metadata, "reconcile_error": str(fetched)[:500]}
                attempt.save(update_fields=["metadata", "updated_at"])
            return "reconciled_" + _apply_report(task, attempt, status="failed")
        if isinstance(fetched, dict):
            status = fetched["status"]
            if attempt:
                attempt.metadata = {**attempt.metadata, "reconciled_status": status}
                attempt.save(update_fields=["metadata", "updated_at"])
            if status == "sent":
                status = "delivered"
            outcome = _apply_report(
                task, attempt, status=status, error_code=fetched.get("error_code", "")
            )
            if outcome == "progress":
                task.save(update_fields=["reconciled_at", "updated_at"])
                return "still_in_progress"
            return f"reconciled_{outcome}"
        if task.accepted_at is not None:
            return "reconciled_" + _apply_report(task, attempt, status="delivered")
        # Never accepted: a failed send, retried now without spending a retry.
        task.mark_failed()
        task.last_error = "in transit past its deadline without the provider's acceptance"
        task.error_category = TEMPORARY
        task.next_attempt_at = now
        _save(task, "last_error", "error_category", "next_attempt_at", "reconciled_at")
        return "reconciled_retry_scheduled"


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
