"""Reads for delivery: health figures (seed 004's key metrics) for the dashboard and reports."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Avg, Count, F, Q
from django.utils import timezone

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
