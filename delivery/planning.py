"""
Dispatch planning: which learners' local send time has come, and one lesson task each.

Set-based: one query per time zone in use (a handful), each an `INSERT … SELECT` of every
due learner in that zone, with `ON CONFLICT DO NOTHING` against the one-lesson-per-local-day
constraint, so re-runs and racing planners add nothing twice. The lesson itself is chosen
(`next_lesson_for`) and rendered by the sender, per task, when it is sent.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from delivery.models import DeliveryTask, LearnerDeliveryState, TaskKind
from learners.models import Learner


@dataclass
class PlanSummary:
    planned: int = 0
    by_zone: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False


def outside_quiet_hours(local_time: datetime.time) -> Q:
    """Learners whose quiet hours (possibly spanning midnight) do not contain local_time."""
    no_quiet = Q(quiet_hours_start__isnull=True) | Q(quiet_hours_end__isnull=True)
    same_day = Q(quiet_hours_start__lte=F("quiet_hours_end")) & (
        Q(quiet_hours_start__gt=local_time) | Q(quiet_hours_end__lte=local_time)
    )
    overnight = Q(quiet_hours_start__gt=F("quiet_hours_end")) & Q(
        quiet_hours_start__gt=local_time, quiet_hours_end__lte=local_time
    )
    return no_quiet | same_day | overnight


def paused_learners() -> QuerySet:
    return LearnerDeliveryState.objects.filter(learner=OuterRef("pk"), paused_at__isnull=False)


def due_learners_in_zone(
    zone: str, *, now: datetime.datetime
) -> tuple[QuerySet[Learner], datetime.date] | None:
    """Learners in `zone` due a lesson at `now`, and their local date; None on a skipped day."""
    local = now.astimezone(zoneinfo.ZoneInfo(zone))
    if settings.DELIVERY_SKIP_WEEKENDS and local.weekday() >= 5:
        return None
    local_time = local.time().replace(tzinfo=None)
    already = DeliveryTask.objects.filter(
        learner=OuterRef("pk"), kind=TaskKind.LESSON, local_date=local.date()
    )
    queryset = (
        Learner.objects.filter(time_zone=zone, preferred_send_time__lte=local_time)
        .filter(outside_quiet_hours(local_time))
        .exclude(Exists(paused_learners()))
        .exclude(Exists(already))
    )
    return queryset, local.date()


_INSERT = """
INSERT INTO delivery_deliverytask (
    learner_id, kind, state, local_date, sequence, channel, address, channels_tried,
    retry_count, next_attempt_at, provider_message_id, last_error, error_category,
    render_context, created_at, updated_at
)
SELECT due.id, 'lesson', 'pending', %s, 0, '', '', '[]', 0, %s, '', '', '', '{}', %s, %s
FROM ({select}) AS due
WHERE true
ON CONFLICT DO NOTHING
"""


def plan_dispatch(*, now: datetime.datetime | None = None, dry_run: bool = False) -> PlanSummary:
    """Create today's lesson task for every learner whose local send time has come."""
    now = now or timezone.now()
    summary = PlanSummary(dry_run=dry_run)
    zones = Learner.objects.order_by().values_list("time_zone", flat=True).distinct()
    with transaction.atomic():
        for zone in sorted(zones):
            due = due_learners_in_zone(zone, now=now)
            if due is None:
                continue
            queryset, local_date = due
            if dry_run:
                count = queryset.count()
            else:
                select, params = queryset.order_by().values("id").query.sql_with_params()
                with connection.cursor() as cursor:
                    ops = connection.ops
                    stamp = ops.adapt_datetimefield_value(now)
                    cursor.execute(
                        _INSERT.replace("{select}", select),
                        [ops.adapt_datefield_value(local_date), stamp, stamp, stamp, *params],
                    )
                    count = max(cursor.rowcount, 0)
            if count:
                summary.by_zone[zone] = count
                summary.planned += count
        if summary.planned and not dry_run:
            transaction.on_commit(lambda: _kick_senders(summary.planned))
    return summary


def _kick_senders(planned: int) -> None:
    """After commit: start the drains. A broker that is down is logged (by kick_drains),
    never raised: the tasks are committed and due, and beat's drain tick sends them."""
    from delivery.tasks import kick_drains

    kick_drains()
