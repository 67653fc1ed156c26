"""Recompute the daily engagement rollups (learner and cohort) for a range of UTC days."""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError

from analytics import engagement
from core.jobs import job_run


def _day(value: str, name: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--{name}: not a date (YYYY-MM-DD): {value!r}") from exc


class Command(BaseCommand):
    help = (
        "Recompute the daily per-learner and per-cohort engagement figures from the recorded "
        "metrics for every UTC day from --since to --until (inclusive; default: the last "
        "30 days). Idempotent; rows of days that no longer have any metric are removed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", help="first day, YYYY-MM-DD")
        parser.add_argument("--until", help="last day, YYYY-MM-DD (default: today, UTC)")

    def handle(self, *args, since=None, until=None, **options):
        today = datetime.datetime.now(datetime.UTC).date()
        until_day = _day(until, "until") if until else today
        since_day = _day(since, "since") if since else until_day - datetime.timedelta(days=29)
        if since_day > until_day:
            raise CommandError("--since must be on or before --until")
        with job_run("analytics.engagement.rebuild") as run:
            result = engagement.rebuild(since=since_day, until=until_day)
            for key, value in result.as_counts().items():
                run.set(key, value)
        self.stdout.write(
            f"Rebuilt {since_day}..{until_day}: {result.learner_days} learner days, "
            f"{result.cohort_days} cohort days from {result.metrics_scanned} metrics "
            f"({result.stale_rows_removed} stale rows removed)."
        )
