"""
What a report delivery says on each kind of target, built from the finished run:

- email: subject, text and HTML bodies with the summary, the CSV and PDF attached (links
  only when they are larger than REPORTS_EMAIL_ATTACHMENT_MAX_BYTES together);
- Slack: a message with the title, the summary and signed download links;
- webhook: a JSON document with the run, its summary and signed download links (the
  webhook channel signs the body; the delivery id is the Idempotency-Key, so a receiver
  can drop a retried duplicate).
"""

from __future__ import annotations

import datetime
import json
import zoneinfo
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.template.loader import render_to_string

from analytics.models import ReportDelivery, ReportExecution, TargetKind
from analytics.schedules.links import FILE_KINDS, file_url, link_expires_at
from analytics.schedules.pdf import format_value
from delivery.channels import Attachment, OutboundMessage

CONTENT_TYPES = {"csv": "text/csv", "pdf": "application/pdf"}
SLACK_SUMMARY_FIELDS = 10  # Slack allows at most ten fields in a section


def execution_time_zone(execution: ReportExecution) -> datetime.tzinfo:
    name = execution.schedule.time_zone if execution.schedule_id else "UTC"
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return datetime.UTC


def file_name(execution: ReportExecution, kind: str) -> str:
    field = execution.csv_file if kind == "csv" else execution.pdf_file
    return field.name.rsplit("/", 1)[-1] if field else f"report-{execution.pk}.{kind}"


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _readable(items: dict[str, Any], tz) -> list[tuple[str, str]]:
    return [(_label(key), format_value(value, tz) or "—") for key, value in items.items()]


def _attachments(execution: ReportExecution) -> tuple[Attachment, ...]:
    files = {"csv": execution.csv_file, "pdf": execution.pdf_file}
    if not all(files.values()):
        return ()
    if sum(f.size for f in files.values()) > settings.REPORTS_EMAIL_ATTACHMENT_MAX_BYTES:
        return ()
    attachments = []
    for kind, field in files.items():
        with field.open("rb") as handle:
            content = handle.read()
        attachments.append(Attachment(file_name(execution, kind), content, CONTENT_TYPES[kind]))
    return tuple(attachments)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build(delivery: ReportDelivery, *, now: datetime.datetime) -> OutboundMessage:
    execution, target = delivery.execution, delivery.target
    tz = execution_time_zone(execution)
    title = execution.title or execution.report
    generated_at = format_value(execution.finished_at or now, tz)
    links = {kind: file_url(execution.pk, kind) for kind in FILE_KINDS}
    expires_at = link_expires_at(now)
    key = f"report-delivery-{delivery.pk}"

    if target.kind == TargetKind.EMAIL:
        attachments = _attachments(execution)
        context = {
            "title": title,
            "schedule": execution.schedule,
            "generated_at": generated_at,
            "row_count": execution.row_count or 0,
            "parameters": _readable(execution.parameters, tz),
            "summary": _readable(execution.summary, tz),
            "links": links,
            "links_expire_at": format_value(expires_at, tz),
            "attached": bool(attachments),
        }
        subject = target.config.get("subject") or f"{title} · {generated_at}"
        return OutboundMessage(
            subject=subject[:300],
            text=render_to_string("analytics/email/report.txt", context),
            html=render_to_string("analytics/email/report.html", context),
            attachments=attachments,
            idempotency_key=key,
        )

    if target.kind == TargetKind.SLACK:
        rows = f"{execution.row_count or 0:,} row{'s' if execution.row_count != 1 else ''}"
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": _slack_escape(f"Generated {generated_at} · {rows}")}
                ],
            },
        ]
        summary = _readable(execution.summary, tz)[:SLACK_SUMMARY_FIELDS]
        if summary:
            blocks.append(
                {
                    "type": "section",
                    "fields": [
                        {
                            "type": "mrkdwn",
                            "text": f"*{_slack_escape(k)}*\n{_slack_escape(v)}"[:2000],
                        }
                        for k, v in summary
                    ],
                }
            )
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": (
                        f"<{links['csv']}|Download CSV> · <{links['pdf']}|Download PDF>\n"
                        f"_Links work until {_slack_escape(format_value(expires_at, tz))}._"
                    ),
                },
            }
        )
        return OutboundMessage(
            text=f"{title}: {rows}. CSV: {links['csv']} PDF: {links['pdf']}",
            blocks=blocks,
            idempotency_key=key,
        )

    files = {
        kind: {
            "url": links[kind],
            "filename": file_name(execution, kind),
            "content_type": CONTENT_TYPES[kind],
            "size": (execution.csv_file if kind == "csv" else execution.pdf_file).size,
        }
        for kind in FILE_KINDS
    }
    schedule = execution.schedule
    payload = {
        "event": "report.ready",
        "delivery_id": delivery.pk,
        "execution_id": execution.pk,
        "report": execution.report,
        "title": title,
        "schedule": {"id": schedule.pk, "name": schedule.name} if schedule else None,
        "scheduled_for": execution.scheduled_for,
        "generated_at": execution.finished_at,
        "row_count": execution.row_count,
        "parameters": execution.parameters,
        "summary": execution.summary,
        "files": files,
        "links_expire_at": expires_at,
    }
    # JSON-ready (dates as ISO strings), as the channel signs it and the local sink stores it.
    payload = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    return OutboundMessage(text=f"{title}: report ready", payload=payload, idempotency_key=key)
