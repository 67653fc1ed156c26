"""Sending through the real slack-sdk, twilio and SMTP code against local provider servers:
each error class, retry timing, dead letters, fallback, and idempotent redelivery."""

import datetime
from email import message_from_bytes

import pytest
from django.utils import timezone

from core.models import OutboxEvent
from delivery.models import AttemptStatus, ConsentRecord, DeliveryAttempt, DeliveryTask, TaskState
from delivery.services import drain_due, task_requeue, task_send
from delivery.tasks import send_task
from tests.delivery.factories import DeliveryTaskFactory
from tests.learners.factories import LearnerFactory

pytestmark = pytest.mark.django_db


def _slack_only(**kw):
    return LearnerFactory(preferred_channel="slack", email_opted_out=True, sms_opted_out=True, **kw)


def _reload(task) -> DeliveryTask:
    return DeliveryTask.objects.get(pk=task.pk)


def _topics(name):
    return list(OutboxEvent.objects.filter(topic=name).values_list("payload", flat=True))


# --- success on each channel -----------------------------------------------------------------


def test_slack_lesson_goes_out_with_one_button_per_option(live, lesson):
    # given
    task = DeliveryTaskFactory(learner=_slack_only(), microlesson=lesson)
    # when
    outcome = task_send(task_id=task.pk)
    # then
    assert outcome.result == "accepted"
    [sent] = live.accepted_for("slack")
    assert sent["body"]["channel"] == task.learner.slack_user_id
    buttons = sent["body"]["blocks"][-1]["elements"]
    assert [b["value"] for b in buttons] == [f"{task.pk}:{i}" for i in range(4)]
    task = _reload(task)
    assert task.state == TaskState.DELIVERED
    assert task.provider_message_id.startswith(task.learner.slack_user_id + ":")
    [attempt] = task.attempts.all()
    assert attempt.status == AttemptStatus.DELIVERED
    assert (
        attempt.latency_ms is not None and attempt.provider_message_id == task.provider_message_id
    )
    assert [p["task_id"] for p in _topics("lesson.sent")] == [task.pk]
    assert [p["task_id"] for p in _topics("lesson.delivered")] == [task.pk]


def test_sms_lesson_is_numbered_and_waits_for_the_status_callback(live, lesson):
    learner = LearnerFactory(preferred_channel="sms")
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)

    task_send(task_id=task.pk)

    [sent] = live.accepted_for("twilio")
    body = sent["body"]["Body"]
    assert "1. The receipt" in body and "4. The price tag" in body and "Reply 1-4" in body
    assert len(body) <= 1600
    assert sent["body"]["To"] == learner.phone
    task = _reload(task)
    [attempt] = task.attempts.all()
    assert sent["body"]["StatusCallback"] == (
        f"https://frontline.example.com/webhooks/twilio/status?attempt={attempt.pk}"
    )
    assert task.state == TaskState.IN_TRANSIT
    assert task.provider_message_id == sent["sid"] and task.accepted_at is not None
    assert task.attempts.get().status == AttemptStatus.PROCESSING


def test_email_lesson_has_html_text_and_a_one_time_answer_link(live, lesson):
    learner = LearnerFactory(preferred_channel="email")
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)

    task_send(task_id=task.pk)

    [envelope] = live.smtp.messages
    assert envelope.rcpt_tos == [learner.email]
    message = message_from_bytes(envelope.content)
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in message.walk()
        if not p.is_multipart()
    }
    assert "https://frontline.example.com/answer/" in parts["text/plain"]
    assert "Answer the quiz" in parts["text/html"]
    assert _reload(task).state == TaskState.DELIVERED


# --- temporary errors: retry at 5 min, 15 min, 1 h, then dead letter -------------------------


@pytest.mark.parametrize("kind", ["server_error", "ratelimited"])
def test_temporary_slack_errors_retry_on_the_schedule_then_dead_letter(live, lesson, kind):
    task = DeliveryTaskFactory(learner=_slack_only(), microlesson=lesson)
    live.fail_next("slack", kind, times=4)
    now = timezone.now()
    expected_waits = [300, 900, 3600]

    for retry, wait in enumerate(expected_waits, start=1):
        outcome = task_send(task_id=task.pk, now=now)
        assert outcome.result == "retry_scheduled"
        task = _reload(task)
        assert task.state == TaskState.FAILED
        assert task.retry_count == retry
        assert task.next_attempt_at == now + datetime.timedelta(seconds=wait)
        # not due a second early
        assert (
            task_send(task_id=task.pk, now=task.next_attempt_at - datetime.timedelta(seconds=1))
            is None
        )
        now = task.next_attempt_at

    outcome = task_send(task_id=task.pk, now=now)

    assert outcome.result == "dead_lettered"
    task = _reload(task)
    assert task.state == TaskState.DEAD_LETTERED and task.next_attempt_at is None
    attempts = list(task.attempts.order_by("number"))
    assert len(attempts) == 4
    assert {a.error_category for a in attempts} == {"temporary"}
    assert {a.error_reason for a in attempts} == {
        "rate_limited" if kind == "ratelimited" else "server_error"
    }
    assert live.accepted_for("slack") == []
    assert _topics("lesson.failed")[0]["dead_lettered"] is True


def test_retry_after_longer_than_the_schedule_is_honoured(live, lesson, settings):
    settings.DELIVERY_RETRY_DELAYS = [10, 20, 30]
    task = DeliveryTaskFactory(learner=_slack_only(), microlesson=lesson)
    live.fail_next("slack", "ratelimited")  # answers 429 with Retry-After: 30
    now = timezone.now()

    task_send(task_id=task.pk, now=now)

    task = _reload(task)
    assert task.next_attempt_at == now + datetime.timedelta(seconds=30)
    assert task.attempts.get().metadata["retry_after"] == 30


def test_a_retry_that_succeeds_delivers_and_keeps_the_failed_attempt(live, lesson):
    task = DeliveryTaskFactory(learner=_slack_only(), microlesson=lesson)
    live.fail_next("slack", "server_error")
    now = timezone.now()
    task_send(task_id=task.pk, now=now)

    outcome = task_send(task_id=task.pk, now=now + datetime.timedelta(minutes=5))

    assert outcome.result == "accepted"
    task = _reload(task)
    assert task.state == TaskState.DELIVERED
    assert list(task.attempts.order_by("number").values_list("status", flat=True)) == [
        "failed",
        "delivered",
    ]
    assert len(live.accepted_for("slack")) == 1


def test_twilio_429_and_500_are_temporary(live, lesson):
    learner = LearnerFactory(preferred_channel="sms", email_opted_out=True, slack_opted_out=True)
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)
    live.fail_next("twilio", "rate_limited")
    live.fail_next("twilio", "server_error")
    now = timezone.now()

    first = task_send(task_id=task.pk, now=now)
    second = task_send(task_id=task.pk, now=now + datetime.timedelta(minutes=5))

    assert (first.result, second.result) == ("retry_scheduled", "retry_scheduled")
    reasons = list(_reload(task).attempts.order_by("number").values_list("error_reason", flat=True))
    assert reasons == ["rate_limited", "server_error"]


# --- permanent errors: fail at once, or fall back to the next channel -------------------------


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("invalid_auth", "invalid_auth"),
        ("channel_not_found", "invalid_recipient"),
        ("missing_scope", "missing_permission"),
        ("invalid_blocks", "invalid_payload"),
    ],
)
def test_permanent_slack_errors_fail_at_once_without_retry(live, lesson, kind, reason):
    task = DeliveryTaskFactory(learner=_slack_only(), microlesson=lesson)
    live.fail_next("slack", kind)

    outcome = task_send(task_id=task.pk)

    assert outcome.result == "failed"
    task = _reload(task)
    assert task.state == TaskState.FAILED
    assert task.next_attempt_at is None and task.retry_count == 0
    attempt = task.attempts.get()
    assert (attempt.error_category, attempt.error_reason) == ("permanent", reason)
    assert drain_due() == {}  # nothing left to send


def test_a_wrong_slack_token_is_a_permanent_invalid_auth(live, lesson, settings):
    settings.SLACK_BOT_TOKEN = "xoxb-revoked"
    task = DeliveryTaskFactory(learner=_slack_only(), microlesson=lesson)

    task_send(task_id=task.pk)

    assert task.attempts.get().error_reason == "invalid_auth"
    assert _reload(task).state == TaskState.FAILED


def test_permanent_slack_failure_falls_back_to_email(live, lesson):
    learner = LearnerFactory(preferred_channel="slack")
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)
    live.fail_next("slack", "channel_not_found")

    first = task_send(task_id=task.pk)
    second = task_send(task_id=task.pk)

    assert (first.result, first.channel) == ("fallback", "email")
    assert (second.result, second.channel) == ("accepted", "email")
    task = _reload(task)
    assert task.state == TaskState.DELIVERED and task.channel == "email"
    assert task.channels_tried == ["slack"]
    assert [envelope.rcpt_tos for envelope in live.smtp.messages] == [[learner.email]]
    [changed] = _topics("channel.changed")
    assert (changed["previous_channel"], changed["channel"]) == ("slack", "email")


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("auth", "invalid_auth"),
        ("invalid_to", "invalid_recipient"),
        ("unsubscribed", "unsubscribed"),
    ],
)
def test_permanent_twilio_errors_fall_back(live, lesson, kind, reason):
    learner = LearnerFactory(preferred_channel="sms", slack_opted_out=True)
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)
    live.fail_next("twilio", kind)

    assert task_send(task_id=task.pk).result == "fallback"
    assert task_send(task_id=task.pk).channel == "email"

    attempts = list(_reload(task).attempts.order_by("number"))
    assert (attempts[0].error_category, attempts[0].error_reason) == ("permanent", reason)
    assert attempts[1].channel == "email" and attempts[1].status == "delivered"


def test_twilio_unsubscribed_opts_the_learner_out_with_a_consent_record(live, lesson):
    learner = LearnerFactory(preferred_channel="sms", slack_opted_out=True)
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)
    live.fail_next("twilio", "unsubscribed")

    task_send(task_id=task.pk)

    learner.refresh_from_db()
    assert learner.sms_opted_out is True
    record = ConsentRecord.objects.get(learner=learner)
    assert (record.channel, record.action, record.method) == ("sms", "opt_out", "provider")


def test_unreachable_learner_fails_without_calling_a_provider(live, lesson):
    learner = LearnerFactory(
        preferred_channel="email", email_opted_out=True, sms_opted_out=True, slack_opted_out=True
    )
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)

    outcome = task_send(task_id=task.pk)

    assert outcome.result == "failed"
    assert _reload(task).last_error == "no reachable channel"
    assert live.requests == [] and live.smtp.messages == []


def test_opted_out_preferred_channel_is_skipped(live, lesson):
    learner = LearnerFactory(preferred_channel="slack", slack_opted_out=True)
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)

    assert task_send(task_id=task.pk).channel == "email"
    assert live.accepted_for("slack") == []


def test_fallback_order_is_configurable(live, lesson, settings):
    settings.DELIVERY_FALLBACK_ORDER = ["sms", "email"]
    learner = LearnerFactory(preferred_channel="slack")
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)
    live.fail_next("slack", "invalid_auth")

    task_send(task_id=task.pk)
    assert task_send(task_id=task.pk).channel == "sms"


def test_unconfigured_channels_are_skipped_while_others_are_configured(live, lesson, settings):
    settings.SLACK_BOT_TOKEN = ""
    learner = LearnerFactory(preferred_channel="slack")
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)

    assert task_send(task_id=task.pk).channel == "email"


def test_without_any_credentials_the_local_sink_takes_the_message(settings, lesson):
    from delivery.models import SinkMessage

    settings.SLACK_BOT_TOKEN = settings.TWILIO_ACCOUNT_SID = settings.EMAIL_HOST = ""
    learner = LearnerFactory(preferred_channel="sms")
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)

    task_send(task_id=task.pk)

    sink = SinkMessage.objects.get()
    assert (sink.channel, sink.address) == ("sms", learner.phone)
    assert _reload(task).state == TaskState.DELIVERED  # no callback will come from a sink


# --- idempotency and requeue --------------------------------------------------------------------


def test_a_redelivered_send_message_sends_nothing_twice(live, lesson):
    task = DeliveryTaskFactory(learner=_slack_only(), microlesson=lesson)

    first = send_task.delay(task.pk).get()
    second = send_task.delay(task.pk).get()

    assert (first, second) == ("accepted", "not_due")
    assert len(live.accepted_for("slack")) == 1
    assert DeliveryAttempt.objects.filter(task=task).count() == 1


def test_staff_requeue_gives_a_dead_letter_fresh_retries(live, lesson):
    task = DeliveryTaskFactory(learner=_slack_only(), microlesson=lesson)
    live.fail_next("slack", "server_error", times=4)
    now = timezone.now()
    for _ in range(4):
        task_send(task_id=task.pk, now=now)
        now = now + datetime.timedelta(hours=2)
    assert _reload(task).state == TaskState.DEAD_LETTERED

    task_requeue(task=_reload(task))
    outcome = task_send(task_id=task.pk)

    assert outcome.result == "accepted"
    assert _reload(task).state == TaskState.DELIVERED
    assert len(live.accepted_for("slack")) == 1


def test_requeue_refuses_a_delivered_task(live, lesson):
    from delivery.errors import TaskStateError

    task = DeliveryTaskFactory(learner=_slack_only(), microlesson=lesson)
    task_send(task_id=task.pk)

    with pytest.raises(TaskStateError):
        task_requeue(task=_reload(task))


def test_the_lesson_is_chosen_by_next_lesson_for_and_kept_for_retries(live, lesson):
    from tests.lessons.factories import LearningPathFactory

    learner = _slack_only()
    LearningPathFactory(learner=learner, topics=["returns-policy"])
    task = DeliveryTaskFactory(learner=learner)
    live.fail_next("slack", "server_error")
    now = timezone.now()

    task_send(task_id=task.pk, now=now)
    assert _reload(task).microlesson == lesson
    task_send(task_id=task.pk, now=now + datetime.timedelta(minutes=5))

    [sent] = live.accepted_for("slack")
    assert lesson.quiz_question in str(sent["body"]["blocks"])


def test_nothing_to_send_cancels_the_days_task(live):
    task = DeliveryTaskFactory(learner=_slack_only())  # no learning path at all

    assert task_send(task_id=task.pk).result == "cancelled"
    assert _reload(task).state == TaskState.CANCELLED
    assert live.requests == []
