"""
The monitoring dashboard (seed 001 §4) shown on the admin index: a handful of aggregate
reads, one section per concern, each computed on its own so that an app without data (or
a broker that does not answer) shows "no data" for its card instead of breaking the page.

Figures are cached for ANALYTICS_DASHBOARD_CACHE_SECONDS (the page may be open on many
screens); each section names the permission a user needs to see it, checked when rendering.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Q
from django.db.models.functions import TruncMinute
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

logger = logging.getLogger(__name__)

CACHE_KEY = "analytics:dashboard:v1"
WINDOW = timedelta(hours=24)
INGEST_MINUTES = 60

# Seed 001's palette: pending grey, in transit blue, delivered green, failed red,
# returned orange; and the two states Frontline adds.
STATE_COLOURS = {
    "pending": "#9e9e9e",
    "in_transit": "#1e88e5",
    "delivered": "#43a047",
    "failed": "#e53935",
    "returned": "#fb8c00",
    "dead_lettered": "#8e24aa",
    "cancelled": "#cfd8dc",
}


def _url(name: str, query: str = "", **kwargs: Any) -> str | None:
    try:
        url = reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return None
    return f"{url}?{query}" if query else url


# --- sections ---------------------------------------------------------------------------


def queue_depths() -> dict[str, Any]:
    """Messages waiting per Celery queue (the same figures /healthz shows)."""
    from core.health import queue_depths as broker_queue_depths

    return broker_queue_depths()


def job_runs(now) -> dict[str, Any]:
    from core.models import JobRun

    recent = JobRun.objects.filter(started_at__gte=now - WINDOW)
    by_status = dict(recent.values_list("status").annotate(n=Count("id")).order_by())
    by_name = list(
        recent.values("name")
        .annotate(
            runs=Count("id"),
            failed=Count("id", filter=Q(status=JobRun.Status.FAILED)),
            last_started=Max("started_at"),
        )
        .order_by("-failed", "-runs", "name")[:12]
    )
    failures = [
        {"id": run.pk, "name": run.name, "started_at": run.started_at, "error": run.error[:200]}
        for run in recent.filter(status=JobRun.Status.FAILED).only(
            "id", "name", "started_at", "error"
        )[:5]
    ]
    return {
        "runs": sum(by_status.values()),
        "failed": by_status.get(JobRun.Status.FAILED, 0),
        "running": by_status.get(JobRun.Status.RUNNING, 0),
        "succeeded": by_status.get(JobRun.Status.SUCCEEDED, 0),
        "by_name": by_name,
        "failures": failures,
        "link": _url("admin:core_jobrun_changelist"),
        "failed_link": _url("admin:core_jobrun_changelist", "status__exact=failed"),
    }


def deliveries(now) -> dict[str, Any]:
    from delivery.models import DeliveryTask, TaskState
    from delivery.selectors import delivery_health, possible_duplicates_count

    health = delivery_health(since=now - WINDOW)
    states = [
        {
            "state": state.value,
            "label": state.label,
            "count": health.tasks_by_state.get(state.value, 0),
            "colour": STATE_COLOURS.get(state.value, "#607d8b"),
            "link": _url("admin:delivery_deliverytask_changelist", f"state__exact={state.value}"),
        }
        for state in TaskState
    ]
    total = sum(s["count"] for s in states)
    for s in states:
        s["share"] = round(100 * s["count"] / total, 1) if total else 0.0
    return {
        "states": states,
        "total": total,
        "success_rate": (
            round(100 * health.success_rate, 1) if health.success_rate is not None else None
        ),
        "average_delivery_seconds": health.average_delivery_seconds,
        "errors": sorted(health.errors_by_reason.items(), key=lambda kv: (-kv[1], kv[0]))[:5],
        "dead_lettered_total": DeliveryTask.objects.filter(state=TaskState.DEAD_LETTERED).count(),
        "link": _url("admin:delivery_deliverytask_changelist"),
        "dead_letter_link": _url(
            "admin:delivery_deliverytask_changelist", "state__exact=dead_lettered"
        ),
        "possible_duplicates": possible_duplicates_count(),
        "possible_duplicates_link": _url(
            "admin:delivery_deliverytask_changelist", "possible_duplicate__exact=1"
        ),
        "breakers_link": _url("admin:delivery_deliverytask_breakers"),
    }


def xapi(now) -> dict[str, Any]:
    from analytics.models import Statement
    from analytics.selectors import etl_lag

    start = now.replace(second=0, microsecond=0) - timedelta(minutes=INGEST_MINUTES - 1)
    per_minute = dict(
        Statement.objects.filter(stored__gte=start)
        .annotate(minute=TruncMinute("stored"))
        .values_list("minute")
        .annotate(n=Count("id"))
        .order_by()
    )
    minutes = [start + timedelta(minutes=i) for i in range(INGEST_MINUTES)]
    series = [per_minute.get(minute, 0) for minute in minutes]
    lag = etl_lag()
    return {
        "last_hour": sum(series),
        "per_minute": round(sum(series) / INGEST_MINUTES, 2),
        "series": series,
        "labels": [minute.strftime("%H:%M") for minute in minutes],
        "etl": {
            "mode": lag.mode,
            "unflattened": lag.unflattened,
            "lag_seconds": round(lag.lag_seconds, 1),
            "last_stored": lag.last_stored,
            "last_flattened": lag.last_flattened,
            "stream_length": lag.stream_length,
            "stream_pending": lag.stream_pending,
            "lagging": lag.lag_seconds > settings.ANALYTICS_ETL_LAG_WARN_SECONDS,
        },
        "link": _url("admin:analytics_statement_changelist"),
    }


def inbound(now) -> dict[str, Any]:
    from delivery.models import InboundRequest

    recent = InboundRequest.objects.filter(created_at__gte=now - WINDOW)
    summary = recent.aggregate(
        total=Count("id"),
        bad_signature=Count("id", filter=Q(signature_ok=False)),
        errors=Count("id", filter=Q(status_code__gte=400)),
    )
    rows = [
        {
            "id": r.pk,
            "created_at": r.created_at,
            "provider": r.provider,
            "kind": r.kind,
            "outcome": r.outcome,
            "status_code": r.status_code,
            "signature_ok": r.signature_ok,
        }
        for r in InboundRequest.objects.only(
            "id", "created_at", "provider", "kind", "outcome", "status_code", "signature_ok"
        )[:8]
    ]
    return {**summary, "recent": rows, "link": _url("admin:delivery_inboundrequest_changelist")}


def gift_card_liability() -> dict[str, Any]:
    from gift_cards.selectors import gift_card_liability_by_currency

    rows = [
        {"currency": r["currency"], "cards": r["cards"], "outstanding": r["outstanding"]}
        for r in gift_card_liability_by_currency()
    ]
    return {
        "currencies": rows,
        "link": _url("admin:gift_cards_giftcard_changelist"),
        "report_link": _url("admin:gift_cards_giftcard_liability"),
    }


def path_rewards(now) -> dict[str, Any]:
    from lessons.rewards.selectors import path_reward_month_summary

    summary = path_reward_month_summary(now=now)
    return {
        **summary,
        "link": _url("admin:lessons_pathreward_changelist"),
        "pending_link": _url("admin:lessons_pathreward_changelist", "status__exact=pending_budget"),
        "budgets_link": _url("admin:lessons_rewardbudget_changelist"),
    }


def returns_pipeline() -> dict[str, Any]:
    from returns.models import RefundState, ReturnRequest

    counts = dict(ReturnRequest.objects.values_list("status").annotate(n=Count("id")).order_by())
    statuses = [
        {
            "status": status.value,
            "label": status.label,
            "count": counts.get(status.value, 0),
            "link": _url("admin:returns_returnrequest_changelist", f"status__exact={status.value}"),
        }
        for status in ReturnRequest.Status
    ]
    refund_failed = (
        ReturnRequest.objects.filter(refund_state__in=[RefundState.FAILED, RefundState.REJECTED])
        .exclude(status=ReturnRequest.Status.COMPLETED)
        .count()
    )
    return {
        "statuses": statuses,
        "total": sum(counts.values()),
        "refund_failed": refund_failed,
        "link": _url("admin:returns_returnrequest_changelist"),
        "queue_link": _url("admin:returns_returnrequest_queue"),
    }


def system() -> dict[str, Any]:
    from core.health import beat_last_seen, discover_sections
    from core.resilience import circuit_breakers

    discover_sections()  # apps' health modules create their breakers
    return {
        "breakers": [
            {"name": name, "state": breaker.state}
            for name, breaker in sorted(circuit_breakers().items())
        ],
        "scheduler": beat_last_seen(),
    }


# --- assembly ---------------------------------------------------------------------------

# (key, title, permission needed to see it, computation)
SECTIONS: list[tuple[str, str, str, Callable[[Any], dict[str, Any]]]] = [
    ("queues", "Queues", "core.view_jobrun", lambda now: queue_depths()),
    ("jobs", "Job runs (24 h)", "core.view_jobrun", job_runs),
    ("delivery", "Deliveries (24 h)", "delivery.view_deliverytask", deliveries),
    ("xapi", "xAPI ingest and ETL", "analytics.view_statement", xapi),
    ("inbound", "Inbound webhooks (24 h)", "delivery.view_inboundrequest", inbound),
    (
        "gift_cards",
        "Gift card liability",
        "gift_cards.view_giftcard",
        lambda now: gift_card_liability(),
    ),
    ("rewards", "Completion rewards (this month)", "lessons.view_pathreward", path_rewards),
    ("returns", "Returns pipeline", "returns.view_returnrequest", lambda now: returns_pipeline()),
    ("system", "Dependencies", "core.view_jobrun", lambda now: system()),
]


def _compute() -> dict[str, Any]:
    now = timezone.now()
    figures: dict[str, Any] = {"generated_at": now, "sections": {}}
    for key, title, permission, compute in SECTIONS:
        try:
            data = compute(now)
            error = ""
        except Exception as exc:  # one failing section must not take the page down
            logger.warning("dashboard section failed", exc_info=True, extra={"section": key})
            data, error = None, f"{type(exc).__name__}: {exc}"[:200]
        figures["sections"][key] = {
            "key": key,
            "title": title,
            "permission": permission,
            "data": data,
            "error": error,
        }
    return figures


def dashboard_figures(*, use_cache: bool = True) -> dict[str, Any]:
    """Every section's figures (cached for ANALYTICS_DASHBOARD_CACHE_SECONDS)."""
    seconds = settings.ANALYTICS_DASHBOARD_CACHE_SECONDS
    if use_cache and seconds > 0:
        cached = cache.get(CACHE_KEY)
        if cached is not None:
            return cached
    figures = _compute()
    if seconds > 0:
        cache.set(CACHE_KEY, figures, timeout=seconds)
    return figures


def dashboard_for(user, *, use_cache: bool = True) -> dict[str, Any]:
    """The figures `user` may see, plus the chart data for the page's script."""
    figures = dashboard_figures(use_cache=use_cache)
    sections = {
        key: section
        for key, section in figures["sections"].items()
        if user.has_perm(section["permission"])
    }
    charts: dict[str, Any] = {}
    delivery = (sections.get("delivery") or {}).get("data")
    if delivery and delivery["total"]:
        charts["delivery"] = {
            "labels": [s["label"] for s in delivery["states"]],
            "values": [s["count"] for s in delivery["states"]],
            "colours": [s["colour"] for s in delivery["states"]],
        }
    ingest = (sections.get("xapi") or {}).get("data")
    if ingest:
        charts["ingest"] = {"labels": ingest["labels"], "values": ingest["series"]}
    return {
        "generated_at": figures["generated_at"],
        "sections": sections,
        "charts": charts,
        "console_link": (
            _url("admin:analytics_queryrun_console")
            if user.has_perm("analytics.run_query_console")
            else None
        ),
    }
