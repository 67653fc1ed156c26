"""Rows in every app the monitoring dashboard reads, made the way each app makes them
(services where they exist), plus the figures the dashboard should show, from the ORM."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Count, Q, Sum
from django.utils import timezone

from analytics import services as analytics_services
from analytics.models import Statement
from core.jobs import job_run
from delivery.models import DeliveryTask, InboundRequest, TaskState
from gift_cards.models import GiftCard
from returns.models import ReturnReason, ReturnRequest
from tests.analytics.factories import StatementFactory
from tests.delivery.factories import DeliveryTaskFactory
from tests.gift_cards.factories import GiftCardFactory
from tests.returns.factories import OrderFactory

DELIVERY_STATES = {
    TaskState.DELIVERED: 3,
    TaskState.FAILED: 1,
    TaskState.DEAD_LETTERED: 1,
    TaskState.PENDING: 2,
}
_rma = itertools.count(1)


def seed_dashboard_data() -> None:
    for state, count in DELIVERY_STATES.items():
        for _ in range(count):
            DeliveryTaskFactory(state=state)
    with job_run("analytics.etl.sweep"):
        pass
    with job_run("delivery.drain"):
        pass
    with pytest.raises(RuntimeError), job_run("returns.retry_refunds"):
        raise RuntimeError("payments service down")
    analytics_services.statements_store(statements=StatementFactory.build_batch(5))
    InboundRequest.objects.create(
        provider="twilio",
        kind="status_callback",
        signature_ok=True,
        outcome="delivered",
        status_code=200,
    )
    InboundRequest.objects.create(
        provider="slack",
        kind="interactivity",
        signature_ok=False,
        outcome="bad_signature",
        status_code=403,
    )
    GiftCardFactory(amount=Decimal("50.00"), currency="USD")
    GiftCardFactory(amount=Decimal("20.00"), currency="USD")
    GiftCardFactory(amount=Decimal("30.00"), currency="EUR")
    for status in ["pending", "pending", "approved"]:
        order = OrderFactory()
        ReturnRequest.objects.create(
            rma_number=f"RMA{next(_rma):05d}",
            order=order,
            customer=order.customer,
            reason=ReturnReason.values[0],
            currency="USD",
            status=status,
        )


def expected_figures() -> dict[str, str]:
    """data-figure name → the value the page should carry, computed from the database."""
    since = timezone.now() - timedelta(hours=24)
    tasks = DeliveryTask.objects.filter(created_at__gte=since)
    by_state = dict(tasks.values_list("state").annotate(n=Count("id")).order_by())
    finished = sum(by_state.get(s, 0) for s in ("delivered", "failed", "dead_lettered"))
    figures = {
        "delivery-total": str(sum(by_state.values())),
        "delivery-success-rate": str(round(100 * by_state.get("delivered", 0) / finished, 1)),
        "delivery-dead-letters": str(DeliveryTask.objects.filter(state="dead_lettered").count()),
        "xapi-last-hour": str(
            Statement.objects.filter(
                stored__gte=timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=59)
            ).count()
        ),
        "inbound-total": str(InboundRequest.objects.filter(created_at__gte=since).count()),
        "inbound-bad-signature": str(InboundRequest.objects.filter(signature_ok=False).count()),
        "returns-total": str(ReturnRequest.objects.count()),
    }
    for state, count in by_state.items():
        figures[f"delivery-state-{state}"] = str(count)
    for status, count in ReturnRequest.objects.values_list("status").annotate(n=Count("id")):
        figures[f"returns-{status}"] = str(count)
    from core.models import JobRun

    runs = JobRun.objects.filter(started_at__gte=since).aggregate(
        runs=Count("id"), failed=Count("id", filter=Q(status="failed"))
    )
    figures["jobs-runs"] = str(runs["runs"])
    figures["jobs-failed"] = str(runs["failed"])
    liability = (
        GiftCard.objects.filter(status__in=GiftCard.OPEN)
        .values("currency")
        .annotate(total=Sum("current_balance"))
    )
    for row in liability:
        figures[f"liability-{row['currency']}"] = str(row["total"])
    return figures
