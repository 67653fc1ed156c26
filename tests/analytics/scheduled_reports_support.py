"""
What the scheduled-report tests share: a small report registered for tests only
("test-sales"), schedule/target builders, and a fixture that points every channel at the
local servers of tests/delivery (fake Slack, SMTP sink, webhook receiver).

The test modules import the fixtures they use by name (pytest finds fixtures in a module's
namespace).
"""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from rest_framework import serializers

from analytics.models import ReportSchedule, ReportTarget, TargetKind
from analytics.reporting import Report, ReportTable, register
from analytics.reporting.base import _REGISTRY
from analytics.schedules import services
from tests.delivery.fakes import SLACK_TOKEN

UTC = datetime.UTC
WEBHOOK_SECRET = "report-webhook-secret-for-tests"
PUBLIC_BASE_URL = "https://frontline.example.com"
STORES = ["Leeds", "York", "Hull", "Bath", "Kent"]


class TestSalesReport(Report):
    """`rows` rows of made-up sales; `explode` makes the report itself fail."""

    __test__ = False  # not a pytest test class
    name = "test-sales"
    title = "Test sales"

    class Parameters(serializers.Serializer):
        region = serializers.ChoiceField(choices=["North", "South"], default="North")
        rows = serializers.IntegerField(min_value=0, max_value=100_000, default=3)
        explode = serializers.BooleanField(default=False)

    def run(self, params: dict[str, Any]) -> ReportTable:
        if params["explode"]:
            raise RuntimeError("the sales ledger is unreachable")
        day = datetime.date(2026, 3, 2)
        rows = [
            (
                day + datetime.timedelta(days=i % 28),
                STORES[i % len(STORES)],
                Decimal("100.25") + i,
                "=SUM(A1)" if i == 0 else f"note {i}",
            )
            for i in range(params["rows"])
        ]
        return ReportTable(
            title=f"Test sales: {params['region']}",
            columns=[("day", "Day"), ("store", "Store"), ("amount", "Amount"), ("note", "Note")],
            rows=rows,
            parameters={"region": params["region"], "rows": params["rows"]},
            summary={"total": sum((r[2] for r in rows), Decimal("0")), "stores": len(STORES)},
        )


@pytest.fixture
def sales_report():
    """Registers "test-sales" for the test only (the registry is process-wide)."""
    register(TestSalesReport)
    yield _REGISTRY[TestSalesReport.name]
    _REGISTRY.pop(TestSalesReport.name, None)


def make_schedule(
    *,
    cron: str = "0 7 * * *",
    time_zone: str = "UTC",
    parameters: dict | None = None,
    report: str = "test-sales",
    next_run_at: datetime.datetime | None = None,
    targets: list[tuple[str, str]] = (),
    name: str = "Morning sales",
    is_active: bool = True,
) -> ReportSchedule:
    schedule = ReportSchedule.objects.create(
        name=name,
        report=report,
        parameters=parameters if parameters is not None else {"region": "North"},
        cron=cron,
        time_zone=time_zone,
        is_active=is_active,
        next_run_at=next_run_at,
    )
    for kind, address in targets:
        ReportTarget.objects.create(schedule=schedule, kind=kind, address=address)
    return schedule


def run_once(schedule: ReportSchedule, *, now: datetime.datetime | None = None):
    """A finished execution of `schedule` (generated, deliveries queued but not sent)."""
    execution = services.report_schedule_run_now(schedule=schedule)
    return services.report_execution_run(execution_id=execution.pk, now=now)


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def pdf_pages(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def report_channels(settings, providers, smtp_sink, live_receiver, media):
    """Email to the SMTP sink, Slack to the fake Web API, webhooks to the live receiver."""
    settings.SLACK_BOT_TOKEN = SLACK_TOKEN
    settings.SLACK_API_URL = providers.slack_base_url
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_sink.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_USE_TLS = False
    settings.DELIVERY_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.DELIVERY_PUBLIC_BASE_URL = PUBLIC_BASE_URL
    settings.DELIVERY_RETRY_DELAYS = [300, 900, 3600]
    providers.smtp = smtp_sink
    providers.receiver = live_receiver
    return providers


TARGETS = {
    TargetKind.EMAIL: "managers@frontline.example.com",
    TargetKind.SLACK: "C0REPORTS",
}
