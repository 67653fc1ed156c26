"""Thin Celery entry points of the ETL (routed to the `etl` queue by name)."""

from celery import shared_task

from analytics import etl
from core.jobs import tracked_job


@shared_task(name="analytics.etl.sweep", ignore_result=True)
@tracked_job("analytics.etl.sweep")
def etl_sweep_task(run) -> None:
    for key, value in etl.sweep().items():
        run.set(key, value)


@shared_task(name="analytics.etl.consume", ignore_result=True)
def etl_consume_task(max_batches: int = 200) -> dict:
    """One bounded pass over the ETL stream; beat starts one every few seconds."""
    return etl.consume(max_batches=max_batches)
