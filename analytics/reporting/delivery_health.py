"""
`delivery-health` (seed 004's key metrics): success rate, average delivery time, retry
frequency and the error distribution, by channel and period, from delivery's own tables
through delivery.selectors (the definitions of the monitoring dashboard's figures).

`view=summary` gives one row per period and channel; `view=errors` one row per period,
channel, error category and reason with its share of that channel's attempts.

The selectors give additive figures per UTC day and channel, summed here into days, ISO
weeks or months. Reading them costs a pass over every task and attempt of the window, so
days that are over (before yesterday, UTC) are kept in the cache for an hour, a day per
key: a window of a month then reads two days live. A late change to an old task (a
requeue from the admin) shows within the hour.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.cache import cache
from rest_framework import serializers

from analytics.reporting.base import Report, ReportTable, register
from analytics.reporting.common import PeriodParameters, day_bounds, period_start, share, today

CHANNELS = ("slack", "sms", "email", "webhook")
CACHE_SECONDS = 3600
_CACHE_KEY = "reports:delivery-health:v1:{day}"

SUMMARY_COLUMNS = [
    ("period", "Period"),
    ("channel", "Channel"),
    ("tasks", "Tasks"),
    ("delivered", "Delivered"),
    ("failed", "Failed"),
    ("dead_lettered", "Dead-lettered"),
    ("success_rate", "Success rate"),
    ("average_delivery_seconds", "Average delivery time (s)"),
    ("attempts", "Attempts"),
    ("retries", "Retries"),
    ("retry_frequency", "Retries per finished task"),
    ("temporary_errors", "Temporary errors"),
    ("permanent_errors", "Permanent errors"),
]
ERROR_COLUMNS = [
    ("period", "Period"),
    ("channel", "Channel"),
    ("category", "Error category"),
    ("reason", "Error reason"),
    ("count", "Attempts"),
    ("share_of_attempts", "Share of the channel's attempts"),
]
_SUMMED = (
    "tasks",
    "delivered",
    "failed",
    "dead_lettered",
    "delivered_timed",
    "delivery_seconds",
    "attempts",
    "retries",
    "temporary_errors",
    "permanent_errors",
)


def _read(since: datetime.date, until: datetime.date, *, errors: bool):
    """The selectors' day figures (and errors) of [since, until], all channels."""
    from delivery import selectors

    start, end = day_bounds(since, until)
    days = selectors.delivery_days(since=start, until=end)
    failures = selectors.delivery_day_errors(since=start, until=end) if errors else []
    return days, failures


def day_figures(since: datetime.date, until: datetime.date, *, errors: bool = False):
    """Figures and errors per day of [since, until]: closed days through the cache."""
    last_closed = today() - datetime.timedelta(days=2)
    closed = [
        since + datetime.timedelta(days=n)
        for n in range((min(until, last_closed) - since).days + 1)
    ]
    cached = cache.get_many([_CACHE_KEY.format(day=day) for day in closed])
    days, failures = [], []
    missing = []
    for day in closed:
        entry = cached.get(_CACHE_KEY.format(day=day))
        if entry is None:
            missing.append(day)
        else:
            days += entry[0]
            failures += entry[1]
    if missing:
        fresh, fresh_failures = _read(missing[0], missing[-1], errors=True)
        per_day: dict[datetime.date, tuple[list, list]] = {day: ([], []) for day in missing}
        for row in fresh:
            per_day.setdefault(row.day, ([], []))[0].append(row)
        for row in fresh_failures:
            per_day.setdefault(row.day, ([], []))[1].append(row)
        cache.set_many(
            {_CACHE_KEY.format(day=day): entry for day, entry in per_day.items()},
            timeout=CACHE_SECONDS,
        )
        for day in missing:
            days += per_day[day][0]
            failures += per_day[day][1]
    if until > last_closed:
        live, live_failures = _read(
            max(since, last_closed + datetime.timedelta(days=1)), until, errors=errors
        )
        days += live
        failures += live_failures
    return days, failures


def _summed(rows) -> dict[str, Any]:
    total: dict[str, Any] = dict.fromkeys(_SUMMED, 0)
    for row in rows:
        for key in _SUMMED:
            total[key] += getattr(row, key)
    return total


def _rates(total: dict[str, Any]) -> dict[str, Any]:
    finished = total["delivered"] + total["failed"] + total["dead_lettered"]
    seconds = (
        total["delivery_seconds"] / total["delivered_timed"] if total["delivered_timed"] else None
    )
    return {
        "success_rate": share(total["delivered"], finished),
        "average_delivery_seconds": round(seconds, 3) if seconds is not None else None,
        "retry_frequency": share(total["retries"], finished),
    }


def summary_rows(days, granularity: str) -> list[tuple]:
    groups: dict[tuple, list] = {}
    for row in days:
        groups.setdefault((period_start(row.day, granularity), row.channel), []).append(row)
    rows = []
    for (period, channel), members in sorted(groups.items()):
        total = _summed(members)
        rates = _rates(total)
        rows.append(
            (
                period,
                channel,
                total["tasks"],
                total["delivered"],
                total["failed"],
                total["dead_lettered"],
                rates["success_rate"],
                rates["average_delivery_seconds"],
                total["attempts"],
                total["retries"],
                rates["retry_frequency"],
                total["temporary_errors"],
                total["permanent_errors"],
            )
        )
    return rows


def error_rows(days, failures, granularity: str) -> list[tuple]:
    attempts: dict[tuple, int] = {}
    for row in days:
        key = (period_start(row.day, granularity), row.channel)
        attempts[key] = attempts.get(key, 0) + row.attempts
    counts: dict[tuple, int] = {}
    for row in failures:
        key = (period_start(row.day, granularity), row.channel, row.category, row.reason)
        counts[key] = counts.get(key, 0) + row.count
    return [
        (period, channel, category, reason, count, share(count, attempts.get((period, channel))))
        for (period, channel, category, reason), count in sorted(counts.items())
    ]


@register
class DeliveryHealthReport(Report):
    name = "delivery-health"
    title = "Delivery health"
    description = (
        "Success rate, average delivery time (created to delivered), retries per finished "
        "task and errors, per period and channel (view=summary), or the error distribution "
        "by category and reason (view=errors). Default window: the last 7 days."
    )
    columns = SUMMARY_COLUMNS

    class Parameters(PeriodParameters):
        default_days = 7

        channel = serializers.ChoiceField(choices=CHANNELS, required=False)
        view = serializers.ChoiceField(
            choices=("summary", "errors"),
            default="summary",
            help_text="summary: figures per period and channel; errors: error distribution.",
        )

    def run(self, params: dict[str, Any]) -> ReportTable:
        since, until, granularity = params["since"], params["until"], params["granularity"]
        channel, view = params.get("channel"), params["view"]
        days, failures = day_figures(since, until, errors=view == "errors")
        if channel is not None:
            days = [row for row in days if row.channel == channel]
            failures = [row for row in failures if row.channel == channel]
        total = _summed(days)
        if view == "errors":
            columns, rows = ERROR_COLUMNS, error_rows(days, failures, granularity)
            by_category: dict[str, int] = {}
            by_reason: dict[str, int] = {}
            for row in failures:
                by_category[row.category] = by_category.get(row.category, 0) + row.count
                by_reason[row.reason] = by_reason.get(row.reason, 0) + row.count
            summary = {
                "attempts": total["attempts"],
                "errors_by_category": by_category,
                "errors_by_reason": by_reason,
            }
        else:
            columns, rows = SUMMARY_COLUMNS, summary_rows(days, granularity)
            summary = {
                key: value
                for key, value in total.items()
                if key not in ("delivered_timed", "delivery_seconds")
            }
            summary.update(_rates(total))
        return ReportTable(
            title=self.title,
            columns=columns,
            rows=rows,
            parameters={
                "since": since,
                "until": until,
                "granularity": granularity,
                "channel": channel,
                "view": view,
            },
            summary=summary,
        )
