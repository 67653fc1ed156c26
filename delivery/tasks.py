"""Thin Celery entry points; every name starts with "delivery." (routed to the deliveries queue)."""

from __future__ import annotations

import logging

from celery import shared_task

from core.jobs import tracked_job

logger = logging.getLogger(__name__)


@shared_task(name="delivery.plan_dispatch", ignore_result=True)
@tracked_job("delivery.plan_dispatch")
def plan_dispatch_task(run) -> int:
    from delivery.planning import plan_dispatch

    summary = plan_dispatch()
    run.count("planned", summary.planned)
    run.set("by_zone", summary.by_zone)
    return summary.planned


@shared_task(name="delivery.drain", ignore_result=True)
def drain_task() -> dict:
    from delivery.services import drain_due

    counts = drain_due()
    if counts:
        logger.info("delivery drain", extra={"counts": counts})
    return counts


@shared_task(name="delivery.send", ignore_result=True)
def send_task(task_id: int) -> str:
    """Send one task if it is due; a redelivered message finds it sent and does nothing."""
    from delivery.services import task_send

    outcome = task_send(task_id=task_id)
    return outcome.result if outcome else "not_due"


@shared_task(name="delivery.send_reminders", ignore_result=True)
@tracked_job("delivery.send_reminders")
def send_reminders_task(run) -> dict:
    from delivery.reminders import reminders_send

    counts = reminders_send(job_run=run.run)
    for key, value in counts.items():
        run.count(key, value)
    return counts
