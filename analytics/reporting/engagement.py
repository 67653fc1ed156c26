"""
`engagement`: engagement over time per cohort, from the daily cohort rollups
(CohortEngagementDay, built every 6 hours by analytics.engagement.rollup).

One cohort, or every cohort of a kind (default: regions, which partition the learners).
Per period (day, ISO week, month): the event counts summed over its days, and the active
learners as a daily average over the period's days inside the window; for daily rows that
is exactly the number of learners with at least one event that day. Periods in which a
cohort had no event at all have no row.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import DateField, F, Sum
from django.db.models.functions import Trunc
from rest_framework import serializers

from analytics.models import CohortEngagementDay
from analytics.models.engagement import COUNT_FIELDS
from analytics.reporting.base import QueryRows, Report, ReportTable, register
from analytics.reporting.common import PeriodParameters, cohort_field, describe, share

COUNTS = COUNT_FIELDS


def _period_days(
    period: datetime.date, granularity: str, since: datetime.date, until: datetime.date
) -> int:
    """Days of the period that fall inside [since, until]."""
    if granularity == "day":
        end = period
    elif granularity == "week":
        end = period + datetime.timedelta(days=6)
    else:
        following = (period.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
        end = following - datetime.timedelta(days=1)
    return (min(end, until) - max(period, since)).days + 1


@register
class EngagementReport(Report):
    name = "engagement"
    title = "Engagement over time"
    description = (
        "Per period and cohort: active learners (daily average), learner-days, lessons sent, "
        "started and completed, assessments taken, reminders sent, channel changes and the "
        "completion rate (completed / sent). From the 6-hourly rollups. Default window: the "
        "last 30 days; one cohort, or every cohort of a kind (default: regions)."
    )
    paginated = True
    columns = [
        ("period", "Period"),
        ("cohort_id", "Cohort id"),
        ("cohort", "Cohort"),
        ("active_learners", "Active learners (daily average)"),
        ("learner_days", "Learner-days active"),
        ("lessons_sent", "Lessons sent"),
        ("lessons_started", "Lessons started"),
        ("lessons_completed", "Lessons completed"),
        ("assessments_taken", "Assessments taken"),
        ("reminders_sent", "Reminders sent"),
        ("channel_changes", "Channel changes"),
        ("completion_rate", "Completion rate"),
    ]

    class Parameters(PeriodParameters):
        cohort = cohort_field(required=False)
        cohort_kind = serializers.ChoiceField(
            choices=("store", "region", "team"),
            default="region",
            help_text="Without a cohort: report every cohort of this kind.",
        )

    def run(self, params: dict[str, Any]) -> ReportTable:
        since, until, granularity = params["since"], params["until"], params["granularity"]
        cohort = params.get("cohort")
        days = CohortEngagementDay.objects.filter(day__gte=since, day__lte=until)
        if cohort is not None:
            days = days.filter(cohort_id=cohort.pk)
        else:
            days = days.filter(cohort__kind=params["cohort_kind"])
        if granularity == "day":
            period = F("day")
        else:
            period = Trunc("day", granularity, output_field=DateField())
        grouped = (
            days.annotate(period=period)
            .values("period", "cohort_id", "cohort__name")
            .annotate(learner_days=Sum("active_learners"))
            .annotate(**{key: Sum(key) for key in COUNTS})
            .order_by("period", "cohort__name", "cohort_id")
            .values_list("period", "cohort_id", "cohort__name", "learner_days", *COUNTS)
        )

        def row(record: tuple) -> tuple:
            period_start, cohort_id, name, learner_days, *counts = record
            span = _period_days(period_start, granularity, since, until)
            sent, completed = counts[0], counts[2]
            return (
                period_start,
                cohort_id,
                name,
                round(learner_days / span, 2),
                learner_days,
                *counts,
                share(completed, sent),
            )

        totals = days.aggregate(
            learner_days=Sum("active_learners"), **{key: Sum(key) for key in COUNTS}
        )
        totals = {key: value or 0 for key, value in totals.items()}
        return ReportTable(
            title=self.title if cohort is None else f"{self.title}: {cohort}",
            columns=self.columns,
            rows=QueryRows(grouped, row),
            parameters={
                "since": since,
                "until": until,
                "granularity": granularity,
                "cohort": describe(cohort),
                "cohort_kind": None if cohort is not None else params["cohort_kind"],
            },
            summary={
                **totals,
                "completion_rate": share(totals["lessons_completed"], totals["lessons_sent"]),
            },
        )
