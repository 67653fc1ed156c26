"""Thin Celery entry points for core's plumbing."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from core import outbox
from core.jobs import tracked_job
from core.models import Heartbeat, JobRun, OutboxEvent


@shared_task(name="core.ping")
def ping_task() -> str:
    """Round-trip check for operators: `manage.py ping_worker`."""
    return "pong"


@shared_task(name="core.outbox_publish", ignore_result=True)
def outbox_publish_task() -> int:
    outbox.publisher_started()
    return outbox.publish_pending()


@shared_task(
    name="core.outbox_dispatch",
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=300,  # below the broker's visibility timeout (settings)
    max_retries=8,
    ignore_result=True,
)
def outbox_dispatch_task(event_pk: int, handler: str) -> bool:
    return outbox.dispatch_event(event_pk=event_pk, handler=handler)


@shared_task(name="core.outbox_sweep", ignore_result=True)
@tracked_job("core.outbox_sweep")
def outbox_sweep_task(run) -> None:
    """Every minute: re-dispatch handler runs that have no ProcessedEvent after the grace."""
    for key, value in outbox.redispatch_owed().as_counts().items():
        run.set(key, value)


def record_beat_heartbeat(**_signal_kwargs) -> None:
    Heartbeat.objects.update_or_create(name="beat", defaults={"seen_at": timezone.now()})


@shared_task(name="core.heartbeat", ignore_result=True)
def heartbeat_task() -> None:
    record_beat_heartbeat()


@shared_task(name="core.prune")
@tracked_job("core.prune")
def prune_task(run) -> None:
    now = timezone.now()
    deleted, _ = JobRun.objects.filter(
        started_at__lt=now - timedelta(days=settings.JOB_RUN_RETENTION_DAYS)
    ).delete()
    run.set("job_runs_deleted", deleted)
    deleted, _ = OutboxEvent.objects.filter(
        published_at__lt=now - timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    ).delete()
    run.set("outbox_events_deleted", deleted)
