"""
Engagement metrics (seed 000 §2.5): recorded from the other apps' domain events on core's
outbox, and rolled up every 6 hours into daily per-learner and per-cohort figures.

Recording (the @subscribe handlers, registered in AnalyticsConfig.ready()):

    lesson.sent          → lesson_sent
    reminder.sent        → reminder_sent
    assessment.answered  → assessment_taken, and lesson_started for the learner's first
                           (counted) answer to a lesson, the moment they took it up
    lesson.completed     → lesson_completed
    channel.changed      → channel_changed (delivery fell back to another channel)

A metric keeps the event id; the unique (source_event_id, event_type) constraint and
INSERT … ON CONFLICT DO NOTHING make a redelivered event count once, even if the handler
itself runs twice. Events for a learner who no longer exists record nothing.

Rollup: days are UTC days. `rollup()` recomputes every (learner, day) that a metric recorded
since the previous runs touches, from all of that day's metrics (a recount, not an
increment, so running it again changes nothing), then each cohort's figures for those days
from the learner days, with set-based INSERT … SELECT … ON CONFLICT DO UPDATE. Cohort
figures follow current membership (store, region, team) at the time of the rollup.
`rebuild(since, until)` does the same for every day of a range (management command
`rebuild_engagement`).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from analytics.models import (
    CohortEngagementDay,
    EngagementEvent,
    EngagementMetric,
    EtlCheckpoint,
    LearnerEngagementDay,
)
from analytics.models.engagement import COUNT_COLUMNS, COUNT_FIELDS, EngagementChannel
from core.outbox import subscribe

logger = logging.getLogger(__name__)

ROLLUP_CHECKPOINT = "engagement.rollup"


# --- recording --------------------------------------------------------------------------


def _when(event, payload: dict[str, Any], *keys: str) -> datetime.datetime:
    for key in keys:
        value = payload.get(key)
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is not None:
            return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=datetime.UTC)
    return event.created_at


def _channel(value: Any) -> str:
    return value if value in EngagementChannel.values else ""


def _data(payload: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: payload[key] for key in keys if payload.get(key) is not None}


def record_metrics(event, *metrics: tuple[str, dict[str, Any]], when: datetime.datetime) -> int:
    """Insert one metric per (event type, data) for the event's learner, each at most once.

    Returns how many rows this call inserted (0 for a redelivered event).
    """
    from learners.models import Learner

    payload = event.payload
    learner_id = payload.get("learner_id")
    if not learner_id or not Learner.objects.filter(pk=learner_id).exists():
        logger.warning(
            "engagement event for an unknown learner",
            extra={"event_id": str(event.event_id), "topic": event.topic},
        )
        return 0
    rows = [
        EngagementMetric(
            learner_id=learner_id,
            event_type=event_type,
            event_data=data,
            channel=_channel(payload.get("channel")),
            recorded_at=when,
            source_event_id=event.event_id,
        )
        for event_type, data in metrics
    ]
    before = EngagementMetric.objects.filter(source_event_id=event.event_id).count()
    EngagementMetric.objects.bulk_create(rows, ignore_conflicts=True)
    return EngagementMetric.objects.filter(source_event_id=event.event_id).count() - before


_DELIVERY_KEYS = ("task_id", "microlesson_id", "local_date", "kind")


@subscribe("lesson.sent")
def on_lesson_sent(event) -> None:
    data = _data(event.payload, *_DELIVERY_KEYS)
    record_metrics(event, (EngagementEvent.LESSON_SENT, data), when=event.created_at)


@subscribe("reminder.sent")
def on_reminder_sent(event) -> None:
    data = _data(event.payload, *_DELIVERY_KEYS, "sequence")
    record_metrics(event, (EngagementEvent.REMINDER_SENT, data), when=event.created_at)


@subscribe("channel.changed")
def on_channel_changed(event) -> None:
    data = _data(event.payload, *_DELIVERY_KEYS, "previous_channel", "channel", "reason")
    record_metrics(event, (EngagementEvent.CHANNEL_CHANGED, data), when=event.created_at)


@subscribe("lesson.completed")
def on_lesson_completed(event) -> None:
    data = _data(event.payload, "microlesson_id", "topic")
    when = _when(event, event.payload, "completed_at")
    record_metrics(event, (EngagementEvent.LESSON_COMPLETED, data), when=when)


@subscribe("assessment.answered")
def on_assessment_answered(event) -> None:
    payload = event.payload
    data = _data(
        payload,
        "result_id",
        "microlesson_id",
        "topic",
        "answer",
        "is_correct",
        "counted",
        "is_review",
        "time_taken_seconds",
    )
    metrics = [(EngagementEvent.ASSESSMENT_TAKEN, data)]
    if payload.get("counted"):
        started = _data(payload, "microlesson_id", "topic")
        metrics.append((EngagementEvent.LESSON_STARTED, started))
    record_metrics(event, *metrics, when=_when(event, payload, "attempted_at"))


# --- rollup -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RollupResult:
    metrics_scanned: int
    days: list[datetime.date]
    learner_days: int
    cohort_days: int
    stale_rows_removed: int

    def as_counts(self) -> dict[str, Any]:
        return {
            "metrics_scanned": self.metrics_scanned,
            "days": len(self.days),
            "first_day": self.days[0].isoformat() if self.days else None,
            "last_day": self.days[-1].isoformat() if self.days else None,
            "learner_days": self.learner_days,
            "cohort_days": self.cohort_days,
            "stale_rows_removed": self.stale_rows_removed,
        }


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _day_sql(column: str) -> str:
    """The UTC date of a timestamp column."""
    if connection.vendor == "postgresql":
        return f"(({column}) AT TIME ZONE 'UTC')::date"
    return f"date({column})"


def _day_range_sql(column: str, day: str) -> str:
    """`column` falls on the UTC day `day` (an index-friendly range, not a function of it)."""
    if connection.vendor == "postgresql":
        return (
            f"{column} >= ({day})::timestamp AT TIME ZONE 'UTC' "
            f"AND {column} < (({day}) + 1)::timestamp AT TIME ZONE 'UTC'"
        )
    return f"{column} >= {day} AND {column} < date({day}, '+1 day')"


def _counts_sql(alias: str) -> str:
    return ",\n       ".join(
        f"SUM(CASE WHEN {alias}.event_type = '{event_type}' THEN 1 ELSE 0 END)"
        for event_type in COUNT_COLUMNS
    )


def _upsert_tail(keys: str, columns: list[str]) -> str:
    updates = ", ".join(f"{column} = excluded.{column}" for column in columns)
    return f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"


_COUNTS = list(COUNT_FIELDS)


def _rollup_learner_days_touched(first_id: int, last_id: int, stamp) -> int:
    """Recount every (learner, UTC day) that a metric with first_id < id <= last_id falls on."""
    metrics = _table(EngagementMetric)
    sql = f"""
        WITH touched AS (
            SELECT DISTINCT learner_id, {_day_sql("recorded_at")} AS day
            FROM {metrics}
            WHERE id > %s AND id <= %s
        )
        INSERT INTO {_table(LearnerEngagementDay)}
            (learner_id, day, {", ".join(_COUNTS)}, updated_at)
        SELECT t.learner_id, t.day,
               {_counts_sql("m")},
               %s
        FROM touched t
        JOIN {metrics} m
          ON m.learner_id = t.learner_id AND {_day_range_sql("m.recorded_at", "t.day")}
        WHERE true
        GROUP BY t.learner_id, t.day
        {_upsert_tail("learner_id, day", [*_COUNTS, "updated_at"])}
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [first_id, last_id, stamp])
        if cursor.rowcount >= 0:
            return cursor.rowcount
        # SQLite reports no row count for WITH … INSERT: count the touched days instead.
        touched = f"""
            SELECT COUNT(*) FROM (
                SELECT DISTINCT learner_id, {_day_sql("recorded_at")} FROM {metrics}
                WHERE id > %s AND id <= %s
            ) touched
        """  # noqa: S608
        cursor.execute(touched, [first_id, last_id])
        return cursor.fetchone()[0]


def _rollup_learner_days_between(since: datetime.date, until: datetime.date, stamp) -> int:
    start = datetime.datetime.combine(since, datetime.time.min, tzinfo=datetime.UTC)
    end = datetime.datetime.combine(
        until + datetime.timedelta(days=1), datetime.time.min, tzinfo=datetime.UTC
    )
    sql = f"""
        INSERT INTO {_table(LearnerEngagementDay)}
            (learner_id, day, {", ".join(_COUNTS)}, updated_at)
        SELECT m.learner_id, {_day_sql("m.recorded_at")},
               {_counts_sql("m")},
               %s
        FROM {_table(EngagementMetric)} m
        WHERE m.recorded_at >= %s AND m.recorded_at < %s
        GROUP BY m.learner_id, {_day_sql("m.recorded_at")}
        {_upsert_tail("learner_id, day", [*_COUNTS, "updated_at"])}
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [stamp, start, end])
        return cursor.rowcount


def _rollup_cohort_days(days: list[datetime.date], stamp) -> int:
    """Each cohort's figures on these days, summed over its current members' learner days."""
    if not days:
        return 0
    from learners.models import Learner

    learners = _table(Learner)
    members = " UNION ALL ".join(
        f"SELECT id AS learner_id, {kind}_id AS cohort_id FROM {learners} "  # noqa: S608
        f"WHERE {kind}_id IS NOT NULL"
        for kind in ("store", "region", "team")
    )
    placeholders = ", ".join(["%s"] * len(days))
    sql = f"""
        INSERT INTO {_table(CohortEngagementDay)}
            (cohort_id, day, {", ".join(_COUNTS)}, active_learners, updated_at)
        SELECT c.cohort_id, d.day,
               {", ".join(f"SUM(d.{column})" for column in _COUNTS)},
               COUNT(*),
               %s
        FROM {_table(LearnerEngagementDay)} d
        JOIN ({members}) c ON c.learner_id = d.learner_id
        WHERE d.day IN ({placeholders})
        GROUP BY c.cohort_id, d.day
        {_upsert_tail("cohort_id, day", [*_COUNTS, "active_learners", "updated_at"])}
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [stamp, *days])
        return cursor.rowcount


def _remove_stale(model, days_filter: dict[str, Any], stamp) -> int:
    """Rows of the recomputed days this run did not write: nothing left to count there."""
    deleted, _ = model.objects.filter(**days_filter).filter(updated_at__lt=stamp).delete()
    return deleted


def _touched_days(first_id: int, last_id: int) -> list[datetime.date]:
    sql = f"""
        SELECT DISTINCT {_day_sql("recorded_at")} FROM {_table(EngagementMetric)}
        WHERE id > %s AND id <= %s
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [first_id, last_id])
        days = [row[0] for row in cursor.fetchall()]
    return sorted(
        day if isinstance(day, datetime.date) else datetime.date.fromisoformat(day) for day in days
    )


def rollup() -> RollupResult:
    """Bring the daily rollups up to date with the metrics recorded since the last runs.

    Each run rescans the id range of the run before it too: a metric whose transaction
    committed after that run had read past its id (ids are handed out before commit) is
    counted now. Recounting is idempotent, so the overlap costs time, not correctness.
    Runs are serialised on the checkpoint row.
    """
    with transaction.atomic():
        checkpoint, _ = EtlCheckpoint.objects.get_or_create(name=ROLLUP_CHECKPOINT)
        checkpoint = EtlCheckpoint.objects.select_for_update().get(pk=checkpoint.pk)
        state = checkpoint.parameters or {}
        first_id = int(state.get("previous_last_id", 0))
        last_id = EngagementMetric.objects.order_by("-id").values_list("id", flat=True).first() or 0
        stamp = timezone.now()
        days = _touched_days(first_id, last_id)
        scanned = EngagementMetric.objects.filter(id__gt=first_id, id__lte=last_id).count()
        learner_days = _rollup_learner_days_touched(first_id, last_id, stamp) if days else 0
        cohort_days = _rollup_cohort_days(days, stamp)
        stale = _remove_stale(CohortEngagementDay, {"day__in": days}, stamp) if days else 0
        checkpoint.parameters = {
            "previous_last_id": int(state.get("last_id", 0)),
            "last_id": last_id,
            "last_run_at": stamp.isoformat(),
        }
        checkpoint.save(update_fields=["parameters", "updated_at"])
    return RollupResult(scanned, days, learner_days, cohort_days, stale)


def rebuild(*, since: datetime.date, until: datetime.date) -> RollupResult:
    """Recompute every learner and cohort day from `since` to `until` (UTC, inclusive)."""
    if since > until:
        raise ValueError("since must be on or before until")
    days = [since + datetime.timedelta(days=n) for n in range((until - since).days + 1)]
    with transaction.atomic():
        checkpoint, _ = EtlCheckpoint.objects.get_or_create(name=ROLLUP_CHECKPOINT)
        EtlCheckpoint.objects.select_for_update().get(pk=checkpoint.pk)
        stamp = timezone.now()
        learner_days = _rollup_learner_days_between(since, until, stamp)
        stale = _remove_stale(LearnerEngagementDay, {"day__gte": since, "day__lte": until}, stamp)
        cohort_days = _rollup_cohort_days(days, stamp)
        stale += _remove_stale(CohortEngagementDay, {"day__gte": since, "day__lte": until}, stamp)
    start, end = (
        datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)
        for day in (since, until + datetime.timedelta(days=1))
    )
    scanned = EngagementMetric.objects.filter(recorded_at__gte=start, recorded_at__lt=end).count()
    return RollupResult(scanned, days, learner_days, cohort_days, stale)
