"""
Scheduled reports: open a run per cron slot, generate its CSV and PDF, deliver it to each
target with the delivery app's retry policy.

- `report_schedules_run_due` (beat, every minute) claims each due schedule under
  `SELECT … FOR UPDATE SKIP LOCKED`, opens one ReportExecution for its slot (the unique
  (schedule, scheduled_for) constraint makes a second run of a slot impossible), advances
  `next_run_at` in the schedule's time zone and enqueues the generation. Slots missed while
  nothing ran (beat down) are coalesced into one run of the latest.
- `report_execution_run` generates the files and opens one ReportDelivery per active target.
- `report_delivery_send` sends one delivery through the delivery app's channels, holding
  its row lock for the provider call and recording the attempt in the same transaction
  (as delivery.services does for lessons): temporary errors retry after
  DELIVERY_RETRY_DELAYS (5 min, 15 min, 1 h), then the delivery is a dead letter;
  permanent errors are dead letters at once. `report_delivery_requeue` gives a dead
  letter fresh retries.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import tempfile
import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django_fsm import TransitionNotAllowed
from rest_framework import serializers

from analytics.models import (
    ExecutionStatus,
    ReportDelivery,
    ReportDeliveryAttempt,
    ReportDeliveryState,
    ReportExecution,
    ReportSchedule,
)
from analytics.reporting import get_report, iter_csv
from analytics.reporting.base import UnknownReportError
from analytics.schedules import cron, messages
from analytics.schedules.errors import ReportDeliveryStateError
from analytics.schedules.pdf import render_pdf
from core.api.fields import ReferenceNotFoundError
from delivery.channels import ChannelError, Reason, get_channel

logger = logging.getLogger(__name__)

SENDABLE_STATES = (ReportDeliveryState.QUEUED, ReportDeliveryState.RETRYING)


def _enqueue(task_name: str, *args: Any) -> None:
    """Send a task once the surrounding transaction commits (never for a rolled-back one)."""
    from analytics import tasks

    task = getattr(tasks, task_name)

    def send() -> None:
        task.delay(*args)

    # robust: a broker hiccup (or, eagerly, a failing task) must not undo the caller's work;
    # stalled runs and queued deliveries are picked up again by the beat sweeps.
    transaction.on_commit(send, robust=True)


# --- schedules ------------------------------------------------------------------------------


def _flatten_errors(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else f"{prefix}{key}"
            out += _flatten_errors(value, f"{name}." if name else prefix)
        return out
    if isinstance(detail, list):
        return [message for item in detail for message in _flatten_errors(item, prefix)]
    label = prefix.rstrip(".")
    return [f"{label}: {detail}" if label else str(detail)]


def report_parameters_clean(*, report: str, parameters: Any) -> dict[str, Any]:
    """The report's validated parameters; a Django ValidationError on `report` or
    `parameters` (with the report's field errors) otherwise."""
    try:
        definition = get_report(report)
    except UnknownReportError as exc:
        raise ValidationError({"report": exc.message}) from exc
    if not isinstance(parameters, dict):
        raise ValidationError({"parameters": "Give the parameters as a JSON object."})
    try:
        return definition.clean(parameters)
    except serializers.ValidationError as exc:
        raise ValidationError({"parameters": _flatten_errors(exc.detail)}) from exc
    except ReferenceNotFoundError as exc:  # the API's 404; a field error in a form
        raise ValidationError({"parameters": [exc.message]}) from exc


@transaction.atomic
def report_schedule_save(
    *, schedule: ReportSchedule, acting_user=None, now: datetime.datetime | None = None
) -> ReportSchedule:
    """Validate (cron, time zone, report and its parameters) and save; `next_run_at` is
    recomputed when the schedule is new, its timing changed or it was switched back on."""
    now = now or timezone.now()
    schedule.full_clean()
    report_parameters_clean(report=schedule.report, parameters=schedule.parameters)
    previous = (
        ReportSchedule.objects.select_for_update().filter(pk=schedule.pk).first()
        if schedule.pk
        else None
    )
    timing_changed = previous is None or (
        (previous.cron, previous.time_zone, previous.is_active)
        != (schedule.cron, schedule.time_zone, schedule.is_active)
    )
    if schedule.is_active and (timing_changed or schedule.next_run_at is None):
        schedule.next_run_at = cron.next_slot(schedule.cron, schedule.time_zone, after=now)
    elif not schedule.is_active:
        schedule.next_run_at = None
    if previous is None and acting_user is not None and schedule.created_by_id is None:
        schedule.created_by = acting_user
    schedule.save()
    return schedule


@dataclass
class RunDueResult:
    executions: list[int] = field(default_factory=list)
    missed_slots: int = 0
    broken: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)


# A run still pending this long after it was opened lost its task message (broker down at
# commit, purged queue): the next beat run sends it again (generation is idempotent).
STALLED_PENDING = datetime.timedelta(minutes=10)


def _advance(schedule: ReportSchedule, now: datetime.datetime) -> tuple[datetime.datetime, int]:
    """The slot to run now (the latest one due) and how many earlier due slots it replaces."""
    slot, missed = schedule.next_run_at, 0
    for later in cron.slots_between(schedule.cron, schedule.time_zone, after=slot, until=now):
        slot, missed = later, missed + 1
    return slot, missed


def _broken(schedule: ReportSchedule, exc: Exception) -> None:
    logger.error(
        "report schedule cannot be evaluated",
        extra={"schedule": schedule.pk, "cron": schedule.cron, "error": str(exc)},
    )
    schedule.next_run_at = None
    schedule.is_active = False
    schedule.save(update_fields=["next_run_at", "is_active", "updated_at"])


def report_schedules_run_due(
    *, now: datetime.datetime | None = None, limit: int | None = None
) -> RunDueResult:
    """Open one run for each due schedule (see the module docstring); safe to run from any
    number of workers at once."""
    now = now or timezone.now()
    result = RunDueResult()
    limit = limit or settings.REPORTS_RUN_DUE_BATCH
    for _ in range(limit):
        with transaction.atomic():
            schedule = (
                ReportSchedule.objects.select_for_update(skip_locked=True)
                .filter(is_active=True)
                .filter(next_run_at__lte=now)
                .order_by("next_run_at", "pk")
                .first()
            )
            if schedule is None:
                break
            try:
                slot, missed = _advance(schedule, now)
                following = cron.next_slot(schedule.cron, schedule.time_zone, after=now)
            except cron.SCHEDULE_ERRORS as exc:
                _broken(schedule, exc)
                result.broken.append(schedule.pk)
                continue
            execution, created = ReportExecution.objects.get_or_create(
                schedule=schedule,
                scheduled_for=slot,
                defaults={"report": schedule.report, "parameters": schedule.parameters},
            )
            schedule.last_run_at = now
            schedule.next_run_at = following
            schedule.save(update_fields=["last_run_at", "next_run_at", "updated_at"])
            if created:
                result.executions.append(execution.pk)
                result.missed_slots += missed
                _enqueue("report_execute_task", execution.pk)
    # Active schedules nobody gave a next run yet (created outside the admin) start now.
    for schedule in ReportSchedule.objects.filter(is_active=True, next_run_at__isnull=True):
        try:
            schedule.next_run_at = cron.next_slot(schedule.cron, schedule.time_zone, after=now)
        except cron.SCHEDULE_ERRORS as exc:
            _broken(schedule, exc)
            result.broken.append(schedule.pk)
            continue
        schedule.save(update_fields=["next_run_at", "updated_at"])
    result.requeued = _requeue_stalled(now)
    return result


def _requeue_stalled(now: datetime.datetime) -> list[int]:
    """Runs whose generation task was lost: pending for long, or running past the timeout
    (the worker died); each is sent to generation again."""
    timeout = datetime.timedelta(seconds=settings.REPORTS_EXECUTION_TIMEOUT_SECONDS)
    stalled = list(
        ReportExecution.objects.filter(
            Q(status=ExecutionStatus.PENDING, created_at__lt=now - STALLED_PENDING)
            | Q(status=ExecutionStatus.RUNNING, started_at__lt=now - timeout)
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[: settings.REPORTS_RUN_DUE_BATCH]
    )
    with transaction.atomic():
        for execution_id in stalled:
            _enqueue("report_execute_task", execution_id)
    return stalled


@transaction.atomic
def report_schedule_run_now(*, schedule: ReportSchedule, acting_user=None) -> ReportExecution:
    """An extra run outside the cron slots (staff's "run now"), delivered to the targets."""
    execution = ReportExecution.objects.create(
        schedule=schedule,
        report=schedule.report,
        parameters=schedule.parameters,
        requested_by=acting_user,
    )
    _enqueue("report_execute_task", execution.pk)
    return execution


# --- generating the files ---------------------------------------------------------------------


class _Counted:
    """Rows read once: counted, and the first `keep` kept for the PDF, while the CSV streams."""

    def __init__(self, rows: Iterable[Sequence[Any]], keep: int):
        self.rows, self.keep = rows, keep
        self.kept: list[Sequence[Any]] = []
        self.count = 0

    def __iter__(self) -> Iterator[Sequence[Any]]:
        for row in self.rows:
            if self.count < self.keep:
                self.kept.append(row)
            self.count += 1
            yield row


def _claim(execution_id: int, now: datetime.datetime) -> ReportExecution | None:
    with transaction.atomic():
        execution = (
            ReportExecution.objects.select_for_update(skip_locked=True)
            .filter(pk=execution_id)
            .first()
        )
        if execution is None:
            return None  # another worker holds it right now
        stale = now - datetime.timedelta(seconds=settings.REPORTS_EXECUTION_TIMEOUT_SECONDS)
        if execution.status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED):
            return None
        if execution.status == ExecutionStatus.RUNNING and execution.started_at > stale:
            return None  # running elsewhere; a run older than the timeout died and is retaken
        execution.status = ExecutionStatus.RUNNING
        execution.started_at = now
        execution.save(update_fields=["status", "started_at"])
        return execution


def _file_stem(execution: ReportExecution, tz: datetime.tzinfo) -> str:
    when = (execution.scheduled_for or execution.started_at).astimezone(tz)
    return f"{slugify(execution.report) or 'report'}-{when:%Y%m%d-%H%M}"


def report_execution_run(
    *, execution_id: int, now: datetime.datetime | None = None
) -> ReportExecution | None:
    """Generate the run's CSV and PDF and queue a delivery per active target. Idempotent:
    a finished run (or one another worker is generating) is left alone, returning None."""
    now = now or timezone.now()
    execution = _claim(execution_id, now)
    if execution is None:
        return None
    tz = messages.execution_time_zone(execution)
    try:
        report = get_report(execution.report)
        table = report.run(report.clean(execution.parameters))
        rows = _Counted(table.rows, settings.REPORTS_PDF_MAX_ROWS)
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as csv_buffer:
            for chunk in iter_csv(dataclasses.replace(table, rows=rows)):
                csv_buffer.write(chunk)
            generated_at = timezone.now()
            pdf = render_pdf(
                title=table.title,
                columns=table.columns,
                rows=rows.kept,
                parameters=table.parameters,
                summary=table.summary,
                generated_at=generated_at,
                row_count=rows.count,
                tz=tz,
            )
            stem = _file_stem(execution, tz)
            csv_buffer.seek(0)
            execution.csv_file.save(f"{stem}.csv", File(csv_buffer), save=False)
        execution.pdf_file.save(f"{stem}.pdf", ContentFile(pdf), save=False)
    except Exception as exc:
        return _execution_failed(execution, exc)

    with transaction.atomic():
        execution.status = ExecutionStatus.SUCCEEDED
        execution.title = table.title[:200]
        execution.summary = table.summary
        execution.row_count = rows.count
        execution.finished_at = generated_at
        execution.error = ""
        execution.save()
        if execution.schedule_id:
            for target in execution.schedule.targets.filter(is_active=True).order_by("pk"):
                delivery, created = ReportDelivery.objects.get_or_create(
                    execution=execution, target=target, defaults={"next_attempt_at": generated_at}
                )
                if created:
                    _enqueue("report_deliver_task", delivery.pk)
    return execution


def _execution_failed(execution: ReportExecution, exc: Exception) -> ReportExecution:
    if isinstance(exc, serializers.ValidationError):
        error = "The schedule's parameters are no longer valid: " + "; ".join(
            _flatten_errors(exc.detail)
        )
    elif isinstance(exc, ReferenceNotFoundError):  # a cohort, lesson or topic since deleted
        error = f"The schedule's parameters are no longer valid: {exc.message}"
    elif isinstance(exc, UnknownReportError):
        error = exc.message
    else:
        logger.exception("report generation failed", extra={"execution": execution.pk})
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    execution.status = ExecutionStatus.FAILED
    execution.error = error[:4000]
    execution.finished_at = timezone.now()
    execution.csv_file = execution.pdf_file = ""
    execution.save(update_fields=["status", "error", "finished_at", "csv_file", "pdf_file"])
    return execution


# --- delivering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryOutcome:
    delivery_id: int
    result: str  # delivered, retry_scheduled, dead_lettered


def _due(now: datetime.datetime):
    return ReportDelivery.objects.filter(state__in=SENDABLE_STATES, next_attempt_at__lte=now)


def _locked(queryset):
    return queryset.select_for_update(skip_locked=True, of=("self",)).select_related(
        "execution__schedule", "target"
    )


def report_delivery_send(
    *, delivery_id: int, now: datetime.datetime | None = None
) -> DeliveryOutcome | None:
    """Send one delivery if it is due and no other worker holds it; None otherwise (safe to
    call again for a delivery already sent: it is no longer sendable)."""
    with transaction.atomic():
        now = now or timezone.now()
        delivery = _locked(_due(now)).filter(pk=delivery_id).first()
        if delivery is None:
            return None
        return _send_locked(delivery, now=now)


def report_deliveries_send_due(
    *, now: datetime.datetime | None = None, limit: int | None = None
) -> dict[str, int]:
    """Send every due delivery (retries whose time has come, and queued ones whose task was
    lost), oldest first, until none is due or `limit` were handled."""
    counts: dict[str, int] = {}
    for _ in range(limit or settings.REPORTS_RETRY_BATCH):
        with transaction.atomic():
            current = now or timezone.now()
            delivery = _locked(_due(current)).order_by("next_attempt_at", "pk").first()
            if delivery is None:
                break
            outcome = _send_locked(delivery, now=current)
        counts[outcome.result] = counts.get(outcome.result, 0) + 1
    return counts


def _record_attempt(delivery: ReportDelivery, **fields: Any) -> ReportDeliveryAttempt:
    number = delivery.attempts.count() + 1
    return ReportDeliveryAttempt.objects.create(delivery=delivery, number=number, **fields)


def _save(delivery: ReportDelivery, *fields: str) -> None:
    delivery.save(update_fields=[*fields, "state", "updated_at"])


def _send_locked(delivery: ReportDelivery, *, now: datetime.datetime) -> DeliveryOutcome:
    target = delivery.target
    delivery.start_sending()
    if not target.is_active:
        error = ChannelError("The target was deactivated.", reason=Reason.INVALID_RECIPIENT)
        return _failed(delivery, error, now=now, latency_ms=None, record=False)
    try:
        message = messages.build(delivery, now=now)
    except Exception as exc:  # e.g. the run's files were removed from storage
        logger.exception("report message could not be built", extra={"delivery": delivery.pk})
        error = ChannelError(f"{type(exc).__name__}: {exc}", reason=Reason.INVALID_PAYLOAD)
        return _failed(delivery, error, now=now, latency_ms=None)
    channel = get_channel(target.kind)
    started = time.perf_counter()
    try:
        with transaction.atomic():  # a savepoint: the local sink writes to the database
            result = channel.send(target.address, message)
    except ChannelError as exc:
        return _failed(delivery, exc, now=now, latency_ms=_elapsed_ms(started))
    except Exception as exc:  # a provider SDK surprise: keep the delivery, retry later
        logger.exception("unexpected report send error", extra={"delivery": delivery.pk})
        error = ChannelError(f"{type(exc).__name__}: {exc}", reason=Reason.CONNECTION)
        return _failed(delivery, error, now=now, latency_ms=_elapsed_ms(started))
    latency_ms = _elapsed_ms(started)
    delivered_at = timezone.now()
    delivery.mark_delivered()
    delivery.delivered_at = delivered_at
    delivery.next_attempt_at = None
    delivery.last_error = ""
    delivery.error_category = ""
    _save(delivery, "delivered_at", "next_attempt_at", "last_error", "error_category")
    _record_attempt(
        delivery,
        status="delivered",
        latency_ms=latency_ms,
        metadata={
            "channel": channel.name,
            "address": target.address,
            "provider_message_id": result.provider_message_id,
            "provider_latency_ms": result.latency_ms,
            **result.response,
        },
    )
    return DeliveryOutcome(delivery.pk, "delivered")


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _failed(
    delivery: ReportDelivery,
    exc: ChannelError,
    *,
    now: datetime.datetime,
    latency_ms: float | None,
    record: bool = True,
) -> DeliveryOutcome:
    delivery.last_error = str(exc)[:2000]
    delivery.error_category = exc.category
    if record:
        _record_attempt(
            delivery,
            status="failed",
            error_category=exc.category,
            error_message=str(exc)[:2000],
            latency_ms=latency_ms,
            metadata={"channel": delivery.target.kind, **exc.as_metadata()},
        )
    delays = settings.DELIVERY_RETRY_DELAYS
    if exc.is_temporary and delivery.retry_count < len(delays):
        wait = max(delays[delivery.retry_count], exc.retry_after or 0)
        delivery.schedule_retry()
        delivery.retry_count += 1
        delivery.next_attempt_at = now + datetime.timedelta(seconds=wait)
        _save(delivery, "last_error", "error_category", "retry_count", "next_attempt_at")
        return DeliveryOutcome(delivery.pk, "retry_scheduled")
    delivery.dead_letter()
    delivery.next_attempt_at = None
    _save(delivery, "last_error", "error_category", "next_attempt_at")
    logger.warning(
        "report delivery dead-lettered",
        extra={"delivery": delivery.pk, "reason": exc.reason, "category": exc.category},
    )
    return DeliveryOutcome(delivery.pk, "dead_lettered")


@transaction.atomic
def report_delivery_requeue(*, delivery: ReportDelivery, acting_user=None) -> ReportDelivery:
    """Give a dead letter fresh retries and send it again now."""
    delivery = ReportDelivery.objects.select_for_update().get(pk=delivery.pk)
    try:
        delivery.requeue()
    except TransitionNotAllowed as exc:
        raise ReportDeliveryStateError(
            f"Report delivery {delivery.pk} is {delivery.get_state_display().lower()}; "
            "only dead letters can be requeued."
        ) from exc
    delivery.retry_count = 0
    delivery.next_attempt_at = timezone.now()
    _save(delivery, "retry_count", "next_attempt_at")
    logger.info(
        "report delivery requeued",
        extra={"delivery": delivery.pk, "user": getattr(acting_user, "pk", None)},
    )
    _enqueue("report_deliver_task", delivery.pk)
    return delivery
