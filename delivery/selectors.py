"""Reads for delivery: health figures (seed 004's key metrics) for the dashboard and reports."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Avg, Count, DateField, F, Q, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from core.resilience import CircuitBreaker, circuit_breakers
from delivery.models import DeliveryAttempt, DeliveryTask, InboundRequest


@dataclass(frozen=True)
class DeliveryHealth:
    since: datetime.datetime
    tasks_by_state: dict[str, int]
    success_rate: float | None  # delivered / (delivered + failed + dead-lettered)
    average_delivery_seconds: float | None  # created → delivered
    retry_frequency: float | None  # retries per finished task
    errors_by_reason: dict[str, int]
    attempts_by_channel: dict[str, int]
    inbound_by_outcome: dict[str, int]


def delivery_health(*, since: datetime.datetime | None = None) -> DeliveryHealth:
    since = since or timezone.now() - datetime.timedelta(hours=24)
    tasks = DeliveryTask.objects.filter(created_at__gte=since)
    by_state = dict(tasks.values_list("state").annotate(n=Count("id")).order_by())
    finished = sum(by_state.get(s, 0) for s in ("delivered", "failed", "dead_lettered"))
    delivered = tasks.filter(delivered_at__isnull=False).aggregate(
        average=Avg(F("delivered_at") - F("created_at"))
    )["average"]
    attempts = DeliveryAttempt.objects.filter(created_at__gte=since)
    retries = attempts.filter(Q(number__gt=1)).count()
    errors = dict(
        attempts.exclude(error_reason="")
        .values_list("error_reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_channel = dict(attempts.values_list("channel").annotate(n=Count("id")).order_by())
    inbound = dict(
        InboundRequest.objects.filter(created_at__gte=since)
        .values_list("outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    return DeliveryHealth(
        since=since,
        tasks_by_state=by_state,
        success_rate=by_state.get("delivered", 0) / finished if finished else None,
        average_delivery_seconds=delivered.total_seconds() if delivered is not None else None,
        retry_frequency=retries / finished if finished else None,
        errors_by_reason=errors,
        attempts_by_channel=by_channel,
        inbound_by_outcome=inbound,
    )


# --- per day and channel (the reporting API's delivery-health report) --------------------


@dataclass(frozen=True)
class DeliveryDay:
    """Additive figures of one UTC day and channel, so days sum into weeks and months.

    Tasks count by the day they were created and the channel they went out on (or were
    last tried on; '' for never sent), attempts by the day and channel of the call. The
    rates of delivery_health follow: success rate = delivered / (delivered + failed +
    dead_lettered), average delivery time = delivery_seconds / delivered_timed, retry
    frequency = retries / finished tasks.
    """

    day: datetime.date
    channel: str
    tasks: int = 0
    delivered: int = 0
    failed: int = 0
    dead_lettered: int = 0
    delivered_timed: int = 0
    delivery_seconds: float = 0.0
    attempts: int = 0
    retries: int = 0
    temporary_errors: int = 0
    permanent_errors: int = 0


@dataclass(frozen=True)
class DeliveryDayError:
    day: datetime.date
    channel: str
    category: str
    reason: str
    count: int


def _by_day(queryset, since: datetime.datetime, until: datetime.datetime, channel: str | None):
    queryset = queryset.filter(created_at__gte=since, created_at__lt=until)
    if channel is not None:
        queryset = queryset.filter(channel=channel)
    day = Trunc("created_at", "day", output_field=DateField(), tzinfo=datetime.UTC)
    return queryset.annotate(day=day)


def delivery_days(
    *, since: datetime.datetime, until: datetime.datetime, channel: str | None = None
) -> list[DeliveryDay]:
    """Figures per UTC day and channel for [since, until): two grouped queries."""
    tasks = (
        _by_day(DeliveryTask.objects.all(), since, until, channel)
        .values("day", "channel")
        .annotate(
            tasks=Count("pk"),
            delivered=Count("pk", filter=Q(state="delivered")),
            failed=Count("pk", filter=Q(state="failed")),
            dead_lettered=Count("pk", filter=Q(state="dead_lettered")),
            delivered_timed=Count("pk", filter=Q(delivered_at__isnull=False)),
            delivery_time=Sum(F("delivered_at") - F("created_at")),
        )
        .order_by()
    )
    attempts = (
        _by_day(DeliveryAttempt.objects.all(), since, until, channel)
        .values("day", "channel")
        .annotate(
            attempts=Count("pk"),
            retries=Count("pk", filter=Q(number__gt=1)),
            temporary_errors=Count("pk", filter=Q(error_category="temporary")),
            permanent_errors=Count("pk", filter=Q(error_category="permanent")),
        )
        .order_by()
    )
    figures: dict[tuple, dict] = {}
    for row in tasks:
        total = row.pop("delivery_time")
        row["delivery_seconds"] = total.total_seconds() if total is not None else 0.0
        figures.setdefault((row["day"], row["channel"]), {}).update(row)
    for row in attempts:
        figures.setdefault((row["day"], row["channel"]), {}).update(row)
    return [DeliveryDay(**figures[key]) for key in sorted(figures)]


def delivery_day_errors(
    *, since: datetime.datetime, until: datetime.datetime, channel: str | None = None
) -> list[DeliveryDayError]:
    """The error distribution: failed attempts per UTC day, channel, category and reason."""
    rows = (
        _by_day(DeliveryAttempt.objects.exclude(error_reason=""), since, until, channel)
        .values("day", "channel", "error_category", "error_reason")
        .annotate(n=Count("pk"))
        .order_by("day", "channel", "error_category", "error_reason")
    )
    return [
        DeliveryDayError(
            day=row["day"],
            channel=row["channel"],
            category=row["error_category"],
            reason=row["error_reason"],
            count=row["n"],
        )
        for row in rows
    ]


# --- provider breakers --------------------------------------------------------------------


def provider_breakers() -> list[CircuitBreaker]:
    """The channels' breakers, and every webhook host's this process has seen."""
    from delivery.channels import CHANNEL_NAMES, provider_breaker

    named = {f"delivery.{name}" for name in CHANNEL_NAMES if name != "webhook"}
    for name in named:
        provider_breaker(name)
    hosts = {name for name in circuit_breakers() if name.startswith("delivery.webhook:")}
    return [circuit_breakers()[name] for name in sorted(named | hosts)]


@dataclass(frozen=True)
class BreakerState:
    name: str
    state: str
    calls: int
    failures: int
    retry_after_seconds: float


def provider_breaker_states() -> list[BreakerState]:
    """Each provider breaker's state and its current window (the admin's breaker page)."""
    states = []
    for breaker in provider_breakers():
        calls, failures = breaker.window_counts()
        states.append(
            BreakerState(breaker.name, breaker.state, calls, failures, breaker.retry_after())
        )
    return states


def possible_duplicates_count() -> int:
    """Tasks that were sent again after a send was lost mid-call (the dashboard's figure)."""
    return DeliveryTask.objects.filter(possible_duplicate=True).count()
