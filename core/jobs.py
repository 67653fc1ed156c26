"""
The job-run log (seed 002's TaskStatus): every scheduled or operator job records a JobRun
with its counts and how it ended.

    @shared_task(name="gift_cards.expire_overdue")
    @tracked_job("gift_cards.expire_overdue")
    def gift_cards_expire_task(run):
        run.count("expired", n)

or, around any block: `with job_run("learners.import") as run: ...`.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.utils import timezone

from core.logging import get_request_id
from core.models import JobRun

logger = logging.getLogger(__name__)


class RunRecorder:
    def __init__(self, run: JobRun):
        self.run = run

    def count(self, key: str, amount: int = 1) -> None:
        self.run.counts[key] = self.run.counts.get(key, 0) + amount

    def set(self, key: str, value: Any) -> None:
        self.run.counts[key] = value


@contextmanager
def job_run(name: str, *, task_id: str = "") -> Iterator[RunRecorder]:
    """Record a JobRun around the block; it is saved outside any caller transaction state."""
    run = JobRun.objects.create(
        name=name,
        started_at=timezone.now(),
        task_id=task_id or "",
        request_id=get_request_id() or "",
    )
    recorder = RunRecorder(run)
    try:
        yield recorder
    except BaseException as exc:
        run.status = JobRun.Status.FAILED
        run.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:4000]
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at", "counts"])
        logger.exception("job failed", extra={"job": name, "job_run": run.pk})
        raise
    run.status = JobRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "finished_at", "counts"])
    logger.info("job finished", extra={"job": name, "job_run": run.pk, "counts": run.counts})


def tracked_job(name: str) -> Callable:
    """Decorate a task body taking `run` as its first argument; binds it to a JobRun."""

    def decorator(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with job_run(name) as run:
                return func(run, *args, **kwargs)

        return wrapper

    return decorator
