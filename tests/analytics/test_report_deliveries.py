"""Delivering scheduled reports through the delivery app's channels against local servers:
email with the CSV and PDF attached (SMTP sink), Slack (fake Web API), signed webhooks (live
receiver); temporary failures retried at 5 min / 15 min / 1 h, permanent failures and
exhausted retries dead-lettered, requeue, attempts with latency, one send per delivery
even with two workers."""

import datetime
import json
from email import message_from_bytes, policy

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.models import (
    ReportDelivery,
    ReportDeliveryAttempt,
    ReportDeliveryState,
    ReportExecution,
    TargetKind,
)
from analytics.schedules import services
from analytics.schedules.errors import ReportDeliveryStateError
from analytics.tasks import report_deliver_task, report_deliveries_retry_due_task
from core.models import JobRun
from delivery.channels import SIGNATURE_HEADER, verify_webhook_signature
from delivery.models import SinkMessage
from tests.analytics.scheduled_reports_support import (
    PUBLIC_BASE_URL,
    WEBHOOK_SECRET,
    make_schedule,
    pdf_text,
    run_once,
)
from tests.concurrency import run_in_threads

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sales_report", "media")]

EMAIL = "managers@frontline.example.com"
SLACK_CHANNEL = "C0REPORTS"


def _delivery(kind: str, address: str, **schedule) -> ReportDelivery:
    """A finished run of a fresh schedule with one target, and its queued delivery."""
    execution = run_once(make_schedule(targets=[(kind, address)], **schedule))
    return execution.deliveries.get()


def _reload(delivery: ReportDelivery) -> ReportDelivery:
    return ReportDelivery.objects.get(pk=delivery.pk)


def _file_bytes(field) -> bytes:
    with field.open("rb") as handle:
        return handle.read()


# --- success on each kind of target ------------------------------------------------------------


def test_email_carries_the_summary_links_and_both_files(report_channels):
    delivery = _delivery(TargetKind.EMAIL, EMAIL, parameters={"region": "South", "rows": 4})
    execution = delivery.execution

    outcome = services.report_delivery_send(delivery_id=delivery.pk)

    assert outcome.result == "delivered"
    [envelope] = report_channels.smtp.messages
    assert envelope.rcpt_tos == [EMAIL]
    message = message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"].startswith("Test sales: South · ")
    parts = {}
    attachments = {}
    for part in message.walk():
        if part.is_multipart():
            continue
        if part.get_filename():
            attachments[part.get_filename()] = (
                part.get_content_type(),
                part.get_payload(decode=True),
            )
        else:
            parts[part.get_content_type()] = part.get_payload(decode=True).decode()
    assert "Total: 407.00" in parts["text/plain"]
    assert f"{PUBLIC_BASE_URL}/reports/executions/{execution.pk}/csv?sig=" in parts["text/plain"]
    assert "The CSV and PDF are attached." in parts["text/plain"]
    assert "Download PDF" in parts["text/html"]
    csv_name = execution.csv_file.name.rsplit("/", 1)[-1]
    pdf_name = execution.pdf_file.name.rsplit("/", 1)[-1]
    assert attachments[csv_name] == ("text/csv", _file_bytes(execution.csv_file))
    assert attachments[pdf_name][0] == "application/pdf"
    assert attachments[pdf_name][1] == _file_bytes(execution.pdf_file)
    assert "Test sales: South" in pdf_text(attachments[pdf_name][1])
    # the delivery and its attempt
    delivery = _reload(delivery)
    assert delivery.state == ReportDeliveryState.DELIVERED and delivery.delivered_at
    assert delivery.next_attempt_at is None and delivery.retry_count == 0
    [attempt] = delivery.attempts.all()
    assert attempt.number == 1 and attempt.status == "delivered"
    assert attempt.latency_ms is not None and attempt.latency_ms >= 0
    assert attempt.metadata["channel"] == "email" and attempt.metadata["provider_message_id"]


def test_email_sends_links_only_when_the_files_are_too_big(report_channels, settings):
    settings.REPORTS_EMAIL_ATTACHMENT_MAX_BYTES = 100
    delivery = _delivery(TargetKind.EMAIL, EMAIL)

    services.report_delivery_send(delivery_id=delivery.pk)

    message = message_from_bytes(report_channels.smtp.messages[0].content)
    assert [p.get_filename() for p in message.walk() if p.get_filename()] == []
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    assert "too large to attach" in text.get_payload(decode=True).decode()


def test_slack_gets_the_summary_and_signed_download_links(report_channels, client):
    delivery = _delivery(TargetKind.SLACK, SLACK_CHANNEL)

    outcome = services.report_delivery_send(delivery_id=delivery.pk)

    assert outcome.result == "delivered"
    [sent] = report_channels.accepted_for("slack")
    assert sent["method"] == "chat.postMessage"
    body = sent["body"]
    assert body["channel"] == SLACK_CHANNEL
    assert body["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Test sales: North"},
    }
    fields = [f["text"] for f in body["blocks"][2]["fields"]]
    assert "*Total*\n303.75" in fields
    links_text = body["blocks"][3]["text"]["text"]
    csv_url = links_text.split("<", 1)[1].split("|", 1)[0]
    assert csv_url.startswith(f"{PUBLIC_BASE_URL}/reports/executions/{delivery.execution_id}/csv")
    # the link in the message downloads the file
    response = client.get(csv_url.removeprefix(PUBLIC_BASE_URL))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == _file_bytes(delivery.execution.csv_file)
    delivery = _reload(delivery)
    assert delivery.state == ReportDeliveryState.DELIVERED
    assert delivery.attempts.get().metadata["ts"] == sent["ts"]


def test_webhook_gets_a_signed_json_document_with_links(report_channels, client):
    receiver = report_channels.receiver
    delivery = _delivery(TargetKind.WEBHOOK, receiver.url)

    outcome = services.report_delivery_send(delivery_id=delivery.pk)

    assert outcome.result == "delivered"
    [request] = receiver.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert verify_webhook_signature(
        WEBHOOK_SECRET, headers[SIGNATURE_HEADER.lower()], request["body"]
    )
    assert not verify_webhook_signature(
        "another-secret", headers[SIGNATURE_HEADER.lower()], request["body"]
    )
    assert headers["idempotency-key"] == f"report-delivery-{delivery.pk}"
    document = json.loads(request["body"])
    execution = delivery.execution
    assert document["event"] == "report.ready"
    assert document["execution_id"] == execution.pk and document["delivery_id"] == delivery.pk
    assert document["title"] == "Test sales: North" and document["row_count"] == 3
    assert document["summary"] == {"total": "303.75", "stores": 5}
    assert document["parameters"] == {"region": "North"}
    assert document["schedule"]["name"] == "Morning sales"
    pdf = document["files"]["pdf"]
    assert pdf["content_type"] == "application/pdf" and pdf["size"] == execution.pdf_file.size
    response = client.get(pdf["url"].removeprefix(PUBLIC_BASE_URL))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == _file_bytes(execution.pdf_file)


def test_without_credentials_reports_go_to_the_local_sink(settings):
    settings.SLACK_BOT_TOKEN = ""
    settings.EMAIL_HOST = ""
    settings.DELIVERY_WEBHOOK_SECRET = ""
    schedule = make_schedule(
        targets=[
            (TargetKind.EMAIL, EMAIL),
            (TargetKind.SLACK, SLACK_CHANNEL),
            (TargetKind.WEBHOOK, "https://hooks.example.com/reports"),
        ]
    )
    execution = run_once(schedule)

    for delivery in execution.deliveries.all():
        assert services.report_delivery_send(delivery_id=delivery.pk).result == "delivered"

    sink = {m.channel: m for m in SinkMessage.objects.all()}
    assert sink["email"].address == EMAIL and sink["email"].subject.startswith("Test sales")
    attachments = sink["email"].payload["attachments"]
    assert [a["mimetype"] for a in attachments] == ["text/csv", "application/pdf"]
    assert sink["slack"].payload["blocks"][0]["text"]["text"] == "Test sales: North"
    document = sink["webhook"].payload["payload"]
    assert document["execution_id"] == execution.pk
    assert document["generated_at"].startswith(execution.finished_at.date().isoformat())


def test_the_whole_chain_from_beat_to_inbox(report_channels, django_capture_on_commit_callbacks):
    schedule = make_schedule(
        targets=[(TargetKind.EMAIL, EMAIL), (TargetKind.SLACK, SLACK_CHANNEL)],
        next_run_at=timezone.now() - datetime.timedelta(minutes=1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.report_schedules_run_due()
    execution = ReportExecution.objects.get(schedule=schedule)
    states = set(execution.deliveries.values_list("state", flat=True))
    assert states == {ReportDeliveryState.DELIVERED}
    assert len(report_channels.smtp.messages) == 1
    assert len(report_channels.accepted_for("slack")) == 1


# --- temporary failures: 5 min, 15 min, 1 h, then dead letter ------------------------------------


@pytest.mark.parametrize("kind", ["server_error", "ratelimited"])
def test_temporary_slack_failures_retry_on_the_schedule_then_dead_letter(report_channels, kind):
    delivery = _delivery(TargetKind.SLACK, SLACK_CHANNEL)
    report_channels.fail_next("slack", kind, times=4)
    now = timezone.now()

    for retry, wait in enumerate([300, 900, 3600], start=1):
        outcome = services.report_delivery_send(delivery_id=delivery.pk, now=now)
        assert outcome.result == "retry_scheduled"
        delivery = _reload(delivery)
        assert delivery.state == ReportDeliveryState.RETRYING
        assert delivery.retry_count == retry and delivery.error_category == "temporary"
        assert delivery.next_attempt_at == now + datetime.timedelta(seconds=wait)
        # not due a second early, neither directly nor for the beat's sweep
        early = delivery.next_attempt_at - datetime.timedelta(seconds=1)
        assert services.report_delivery_send(delivery_id=delivery.pk, now=early) is None
        assert services.report_deliveries_send_due(now=early) == {}
        now = delivery.next_attempt_at

    outcome = services.report_delivery_send(delivery_id=delivery.pk, now=now)

    assert outcome.result == "dead_lettered"
    delivery = _reload(delivery)
    assert delivery.state == ReportDeliveryState.DEAD and delivery.next_attempt_at is None
    attempts = list(delivery.attempts.all())
    assert [a.number for a in attempts] == [1, 2, 3, 4]
    assert {a.status for a in attempts} == {"failed"}
    assert {a.error_category for a in attempts} == {"temporary"}
    assert all(a.latency_ms is not None for a in attempts)
    assert attempts[0].metadata["status_code"] in (500, 429)
    assert report_channels.accepted_for("slack") == []


def test_a_retry_that_succeeds_is_sent_by_the_beat_sweep(report_channels):
    receiver = report_channels.receiver
    receiver.respond_with = 503
    delivery = _delivery(TargetKind.WEBHOOK, receiver.url)
    now = timezone.now()
    assert services.report_delivery_send(delivery_id=delivery.pk, now=now).result == (
        "retry_scheduled"
    )
    receiver.respond_with = 200

    counts = services.report_deliveries_send_due(now=now + datetime.timedelta(minutes=5))

    assert counts == {"delivered": 1}
    delivery = _reload(delivery)
    assert delivery.state == ReportDeliveryState.DELIVERED and delivery.retry_count == 1
    assert [a.status for a in delivery.attempts.all()] == ["failed", "delivered"]
    assert len(receiver.requests) == 2
    # the receiver sees the same idempotency key both times
    keys = {r["headers"].get("Idempotency-Key") for r in receiver.requests}
    assert keys == {f"report-delivery-{delivery.pk}"}


def test_the_retry_beat_task_records_what_it_did(report_channels):
    receiver = report_channels.receiver
    delivery = _delivery(TargetKind.WEBHOOK, receiver.url)

    report_deliveries_retry_due_task.delay()

    run = JobRun.objects.get(name="analytics.reports.retry_due")
    assert run.status == JobRun.Status.SUCCEEDED and run.counts == {"delivered": 1}
    assert _reload(delivery).state == ReportDeliveryState.DELIVERED


def test_an_unreachable_webhook_is_a_temporary_failure(report_channels):
    delivery = _delivery(TargetKind.WEBHOOK, "http://127.0.0.1:9/closed")

    outcome = services.report_delivery_send(delivery_id=delivery.pk)

    assert outcome.result == "retry_scheduled"
    attempt = _reload(delivery).attempts.get()
    assert attempt.error_category == "temporary"
    assert attempt.metadata["reason"] == "connection_error"


# --- permanent failures: dead letter at once ----------------------------------------------------


@pytest.mark.parametrize("kind", ["channel_not_found", "invalid_auth", "missing_scope"])
def test_permanent_slack_failures_are_dead_letters_at_once(report_channels, kind):
    delivery = _delivery(TargetKind.SLACK, SLACK_CHANNEL)
    report_channels.fail_next("slack", kind)

    outcome = services.report_delivery_send(delivery_id=delivery.pk)

    assert outcome.result == "dead_lettered"
    delivery = _reload(delivery)
    assert delivery.state == ReportDeliveryState.DEAD and delivery.retry_count == 0
    assert delivery.error_category == "permanent" and kind in delivery.last_error
    [attempt] = delivery.attempts.all()
    assert attempt.error_category == "permanent" and attempt.metadata["provider_code"] == kind


def test_a_refused_email_recipient_is_a_dead_letter(report_channels):
    report_channels.smtp.refuse.add("gone@frontline.example.com")
    delivery = _delivery(TargetKind.EMAIL, "gone@frontline.example.com")

    assert services.report_delivery_send(delivery_id=delivery.pk).result == "dead_lettered"
    assert _reload(delivery).attempts.get().metadata["reason"] == "invalid_recipient"


def test_a_webhook_answering_410_is_a_dead_letter(report_channels):
    receiver = report_channels.receiver
    receiver.respond_with = 410
    delivery = _delivery(TargetKind.WEBHOOK, receiver.url)

    assert services.report_delivery_send(delivery_id=delivery.pk).result == "dead_lettered"
    assert _reload(delivery).error_category == "permanent"


def test_a_target_switched_off_after_the_run_is_not_sent_to(report_channels):
    delivery = _delivery(TargetKind.SLACK, SLACK_CHANNEL)
    delivery.target.is_active = False
    delivery.target.save()

    assert services.report_delivery_send(delivery_id=delivery.pk).result == "dead_lettered"
    delivery = _reload(delivery)
    assert delivery.last_error == "The target was deactivated."
    assert not delivery.attempts.exists() and report_channels.requests == []


# --- requeue -------------------------------------------------------------------------------------


def test_a_dead_letter_requeued_gets_fresh_retries_and_is_sent(
    report_channels, django_capture_on_commit_callbacks
):
    delivery = _delivery(TargetKind.SLACK, SLACK_CHANNEL)
    report_channels.fail_next("slack", "channel_not_found")
    services.report_delivery_send(delivery_id=delivery.pk)
    assert _reload(delivery).state == ReportDeliveryState.DEAD

    with django_capture_on_commit_callbacks(execute=True):
        services.report_delivery_requeue(delivery=delivery)

    delivery = _reload(delivery)
    assert delivery.state == ReportDeliveryState.DELIVERED and delivery.retry_count == 0
    assert [a.status for a in delivery.attempts.all()] == ["failed", "delivered"]
    with pytest.raises(ReportDeliveryStateError):
        services.report_delivery_requeue(delivery=delivery)


def test_admin_requeues_selected_dead_letters(report_channels, client, django_user_model):
    dead = _delivery(TargetKind.SLACK, SLACK_CHANNEL)
    report_channels.fail_next("slack", "invalid_blocks")
    services.report_delivery_send(delivery_id=dead.pk)
    delivered = _delivery(TargetKind.SLACK, SLACK_CHANNEL)
    services.report_delivery_send(delivery_id=delivered.pk)
    admin_user = django_user_model.objects.create_superuser("root", "r@example.com", "pw-1234!")
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:analytics_reportdelivery_changelist"),
        {"action": "requeue_dead_letters", "_selected_action": [dead.pk, delivered.pk]},
        follow=True,
    )

    assert "Requeued 1 report delivery(ies)." in response.content.decode()
    assert _reload(dead).state in (ReportDeliveryState.QUEUED, ReportDeliveryState.DELIVERED)
    assert _reload(delivered).state == ReportDeliveryState.DELIVERED
    page = client.get(reverse("admin:analytics_reportdelivery_change", args=[dead.pk]))
    assert "invalid_blocks" in page.content.decode()


# --- one send per delivery ---------------------------------------------------------------------


def test_a_delivered_report_is_not_sent_again_by_a_redelivered_task(report_channels):
    delivery = _delivery(TargetKind.SLACK, SLACK_CHANNEL)
    assert report_deliver_task.delay(delivery.pk).result == "delivered"
    assert report_deliver_task.delay(delivery.pk).result == "not_due"
    assert len(report_channels.accepted_for("slack")) == 1
    assert ReportDeliveryAttempt.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_the_same_delivery_send_it_once(report_channels, tasks_queued):
    # (tasks_queued: the run's deliver task waits on the broker instead of sending at once)
    delivery = _delivery(TargetKind.SLACK, SLACK_CHANNEL)
    report_channels.delay("slack", 0.5)  # the first worker holds the row during the call

    def send():
        outcome = services.report_delivery_send(delivery_id=delivery.pk)
        return outcome.result if outcome else None

    outcomes, errors = run_in_threads(send, send)
    assert errors == [None, None]
    assert sorted(outcomes, key=str) == [None, "delivered"]
    assert len(report_channels.accepted_for("slack")) == 1
    assert _reload(delivery).attempts.count() == 1
