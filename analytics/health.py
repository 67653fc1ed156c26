"""The analytics app's /healthz contributions.

- "etl": how far the ETL trails the learning record store; past
  ANALYTICS_ETL_LAG_WARN_SECONDS it is "warn" (/healthz "degraded", still 200), past
  ANALYTICS_ETL_LAG_FAIL_SECONDS "error" (/healthz 503 with "etl" in `failing`).
- dead letters of the last hour: report deliveries (this app's own), and the delivery
  app's tasks as a fallback read (analytics reads the other apps' tables) that gives way
  to a source the delivery app registers under the same name.

Found by core.health.discover_sections().
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from core.health import register_dead_letters, register_section


def etl_health() -> dict:
    from analytics.selectors import etl_lag

    lag = etl_lag()
    warn_after = settings.ANALYTICS_ETL_LAG_WARN_SECONDS
    fail_after = settings.ANALYTICS_ETL_LAG_FAIL_SECONDS
    if lag.lag_seconds > fail_after:
        status = "error"
    elif lag.lag_seconds > warn_after:
        status = "warn"
    else:
        status = "ok"
    return {
        "status": status,
        "mode": lag.mode,
        "lag_seconds": round(lag.lag_seconds, 1),
        "warn_after_seconds": warn_after,
        "fail_after_seconds": fail_after,
        "unflattened": lag.unflattened,
        "stream_pending": lag.stream_pending,
    }


def report_deliveries_dead(since: datetime) -> int:
    from analytics.models import ReportDelivery, ReportDeliveryState

    return ReportDelivery.objects.filter(
        state=ReportDeliveryState.DEAD, updated_at__gte=since
    ).count()


def delivery_tasks_dead(since: datetime) -> int:
    # A dead-lettered task is not touched again until staff requeue it, so its last
    # update is when it was dead-lettered.
    from delivery.models import DeliveryTask, TaskState

    return DeliveryTask.objects.filter(state=TaskState.DEAD_LETTERED, updated_at__gte=since).count()


register_section("etl", etl_health)
register_dead_letters("report_deliveries", report_deliveries_dead)
register_dead_letters("delivery_tasks", delivery_tasks_dead, fallback=True)
