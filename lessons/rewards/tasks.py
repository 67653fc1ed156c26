"""Completion reward jobs (beat entry in config/settings.py)."""

from __future__ import annotations

from celery import shared_task

from core.jobs import tracked_job
from lessons.rewards import services


@shared_task(name="lessons.issue_pending_rewards")
@tracked_job("lessons.issue_pending_rewards")
def path_rewards_issue_pending_task(run) -> int:
    """Issue the rewards pending budget whose cohort's budget now allows, oldest first."""
    result = services.path_rewards_issue_pending()
    run.set("issued", result.issued)
    run.set("still_pending", result.still_pending)
    return result.issued
