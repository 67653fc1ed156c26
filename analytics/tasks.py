"""Thin Celery entry points of the ETL (routed to the `etl` queue by name)."""

from celery import shared_task
from django.conf import settings

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


@shared_task(name="analytics.engagement.rollup", ignore_result=True)
@tracked_job("analytics.engagement.rollup")
def engagement_rollup_task(run) -> None:
    """Every 6 hours: the daily learner and cohort engagement figures of the days touched."""
    from analytics import engagement

    for key, value in engagement.rollup().as_counts().items():
        run.set(key, value)


# --- scheduled reports (routed to the `reports` queue by name) -----------------------------


@shared_task(name="analytics.reports.run_due", ignore_result=True)
@tracked_job("analytics.reports.run_due")
def report_schedules_run_due_task(run) -> None:
    """Every minute: open a run for each report schedule whose cron slot has come."""
    from analytics.schedules import services

    result = services.report_schedules_run_due()
    run.set("executions", len(result.executions))
    run.set("missed_slots", result.missed_slots)
    if result.broken:
        run.set("broken_schedules", result.broken)
    if result.requeued:
        run.set("requeued_executions", result.requeued)


@shared_task(
    name="analytics.reports.execute",
    ignore_result=True,
    soft_time_limit=settings.REPORTS_EXECUTION_TIMEOUT_SECONDS - 60,
    time_limit=settings.REPORTS_EXECUTION_TIMEOUT_SECONDS,
)
@tracked_job("analytics.reports.execute")
def report_execute_task(run, execution_id: int) -> None:
    """Generate one run's CSV and PDF, then queue its deliveries (idempotent)."""
    from analytics.schedules import services

    execution = services.report_execution_run(execution_id=execution_id)
    run.set("execution", execution_id)
    run.set("status", execution.status if execution else "skipped")
    if execution is not None and execution.row_count is not None:
        run.set("rows", execution.row_count)


@shared_task(name="analytics.reports.deliver", ignore_result=True)
def report_deliver_task(delivery_id: int) -> str:
    """Send one report delivery if it is due; a redelivered message finds it sent."""
    from analytics.schedules import services

    outcome = services.report_delivery_send(delivery_id=delivery_id)
    return outcome.result if outcome else "not_due"


@shared_task(name="analytics.reports.retry_due", ignore_result=True)
@tracked_job("analytics.reports.retry_due")
def report_deliveries_retry_due_task(run) -> None:
    """Every minute: send the report deliveries whose retry time has come."""
    from analytics.schedules import services

    for key, value in services.report_deliveries_send_due().items():
        run.set(key, value)
