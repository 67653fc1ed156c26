"""The analytics app's /healthz section: how far the ETL trails the learning record store.

Found by core.health.discover_sections(); past ANALYTICS_ETL_LAG_WARN_SECONDS the section
is "warn" and /healthz says "degraded" (still 200).
"""

from __future__ import annotations

from django.conf import settings

from core.health import register_section


def etl_health() -> dict:
    from analytics.selectors import etl_lag

    lag = etl_lag()
    threshold = settings.ANALYTICS_ETL_LAG_WARN_SECONDS
    return {
        "status": "warn" if lag.lag_seconds > threshold else "ok",
        "mode": lag.mode,
        "lag_seconds": round(lag.lag_seconds, 1),
        "warn_after_seconds": threshold,
        "unflattened": lag.unflattened,
        "stream_pending": lag.stream_pending,
    }


register_section("etl", etl_health)
