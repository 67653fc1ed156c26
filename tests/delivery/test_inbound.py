"""Inbound provider requests: Twilio (status callbacks, SMS replies) and Slack buttons,
each signature checked with the provider's own SDK: good, bad, replayed, stale."""

import json
import time
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

from assessments.models import AssessmentResult
from delivery.models import (
    ConsentRecord,
    DeliveryTask,
    InboundRequest,
    LearnerDeliveryState,
    TaskState,
)
from delivery.services import task_send
from tests.delivery.conftest import PUBLIC_BASE_URL, SLACK_SIGNING_SECRET
from tests.delivery.factories import DeliveryTaskFactory
from tests.delivery.fakes import TWILIO_TOKEN
from tests.learners.factories import LearnerFactory

pytestmark = pytest.mark.django_db

STATUS_PATH = "/webhooks/twilio/status"
SMS_PATH = "/webhooks/twilio/sms"
SLACK_PATH = "/webhooks/slack/interactivity"


def _twilio_post(client, path, params, *, token=TWILIO_TOKEN, signature=None):
    if signature is None:
        signature = RequestValidator(token).compute_signature(PUBLIC_BASE_URL + path, params)
    headers = {"HTTP_X_TWILIO_SIGNATURE": signature} if signature else {}
    return client.post(path, params, **headers)


def _sms_task(live, lesson, learner=None):
    learner = learner or LearnerFactory(preferred_channel="sms")
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)
    task_send(task_id=task.pk)
    return DeliveryTask.objects.get(pk=task.pk)


def _sms(client, learner, body, sid="SM" + "a" * 32):
    return _twilio_post(client, SMS_PATH, {"From": learner.phone, "Body": body, "MessageSid": sid})


# --- Twilio status callbacks ----------------------------------------------------------------


def test_delivered_callback_completes_the_task(client, live, lesson):
    task = _sms_task(live, lesson)

    response = _twilio_post(
        client, STATUS_PATH, {"MessageSid": task.provider_message_id, "MessageStatus": "delivered"}
    )

    assert response.status_code == 204
    task = DeliveryTask.objects.get(pk=task.pk)
    assert task.state == TaskState.DELIVERED and task.delivered_at is not None
    assert task.attempts.get().status == "delivered"
    log = InboundRequest.objects.get()
    assert (log.provider, log.kind, log.signature_ok, log.outcome) == (
        "twilio",
        "status_callback",
        True,
        "delivered",
    )


def test_undelivered_callback_returns_the_task_and_falls_back(client, live, lesson):
    task = _sms_task(live, lesson, LearnerFactory(preferred_channel="sms", slack_opted_out=True))

    _twilio_post(
        client,
        STATUS_PATH,
        {
            "MessageSid": task.provider_message_id,
            "MessageStatus": "undelivered",
            "ErrorCode": "30003",
        },
    )

    task = DeliveryTask.objects.get(pk=task.pk)
    assert task.state == TaskState.RETURNED and task.channels_tried == ["sms"]
    assert task_send(task_id=task.pk).channel == "email"
    assert DeliveryTask.objects.get(pk=task.pk).state == TaskState.DELIVERED


def test_a_badly_signed_callback_is_403_and_changes_nothing(client, live, lesson):
    task = _sms_task(live, lesson)
    params = {"MessageSid": task.provider_message_id, "MessageStatus": "delivered"}

    forged = _twilio_post(client, STATUS_PATH, params, token="not-the-token")
    unsigned = client.post(STATUS_PATH, params)

    assert (forged.status_code, unsigned.status_code) == (403, 403)
    assert DeliveryTask.objects.get(pk=task.pk).state == TaskState.IN_TRANSIT
    assert list(InboundRequest.objects.values_list("signature_ok", "outcome")) == [
        (False, "bad_signature"),
        (False, "bad_signature"),
    ]


def test_signature_over_other_params_is_refused(client, live, lesson):
    task = _sms_task(live, lesson)
    signed_for = {"MessageSid": task.provider_message_id, "MessageStatus": "sent"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        PUBLIC_BASE_URL + STATUS_PATH, signed_for
    )

    response = _twilio_post(
        client,
        STATUS_PATH,
        {**signed_for, "MessageStatus": "undelivered"},
        signature=signature,
    )

    assert response.status_code == 403


def test_replayed_and_stale_callbacks_change_nothing(client, live, lesson):
    task = _sms_task(live, lesson)
    delivered = {"MessageSid": task.provider_message_id, "MessageStatus": "delivered"}
    _twilio_post(client, STATUS_PATH, delivered)

    replay = _twilio_post(client, STATUS_PATH, delivered)
    stale = _twilio_post(
        client,
        STATUS_PATH,
        {"MessageSid": task.provider_message_id, "MessageStatus": "undelivered"},
    )

    assert (replay.status_code, stale.status_code) == (204, 204)
    task = DeliveryTask.objects.get(pk=task.pk)
    assert task.state == TaskState.DELIVERED and task.channels_tried == []
    assert list(InboundRequest.objects.order_by("id").values_list("outcome", flat=True)) == [
        "delivered",
        "stale",
        "stale",
    ]


# --- inbound SMS ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ("1", 0),
        ("b", 1),
        ("B)", 1),
        (" 3.", 2),
        ("the price tag", 3),
        ("The Price Tag!", 3),
        ("b) the weather", 1),
        ("2. The weather", 1),
    ],
)
def test_sms_answers_are_parsed_tolerantly(client, live, lesson, body, answer):
    task = _sms_task(live, lesson)

    response = _sms(client, task.learner, body)

    assert response.status_code == 200
    result = AssessmentResult.objects.get(learner=task.learner)
    assert (result.user_answer, result.channel) == (answer, "sms")
    assert b"<Message>" in response.content
    expected = b"Correct!" if answer == 0 else b"Not quite: the answer is 1."
    assert expected in response.content


@pytest.mark.parametrize("body", ["7", "maybe", "1 or 2", "", "2. the receipt", "e) the clock"])
def test_unclear_sms_answers_get_a_clarifying_reply_not_a_score(client, live, lesson, body):
    task = _sms_task(live, lesson)

    response = _sms(client, task.learner, body)

    assert b"Reply with a number from 1 to 4" in response.content
    assert not AssessmentResult.objects.exists()


def test_stop_and_start_are_consent_records(client, live, lesson):
    learner = _sms_task(live, lesson).learner

    stop = _sms(client, learner, "STOP", sid="SM" + "1" * 32)
    learner.refresh_from_db()
    assert learner.sms_opted_out is True
    start = _sms(client, learner, "Start", sid="SM" + "2" * 32)
    learner.refresh_from_db()

    assert learner.sms_opted_out is False
    assert b"no more Frontline texts" in stop.content and b"Welcome back" in start.content
    records = list(ConsentRecord.objects.order_by("id").values_list("action", "method", "message"))
    assert records == [("opt_out", "keyword", "STOP"), ("opt_in", "keyword", "Start")]


def test_unsubscribe_opts_out_and_help_answers(client, live, lesson):
    learner = _sms_task(live, lesson).learner

    help_reply = _sms(client, learner, "HELP", sid="SM" + "3" * 32)
    _sms(client, learner, "unsubscribe", sid="SM" + "4" * 32)

    assert b"Reply STOP" in help_reply.content
    learner.refresh_from_db()
    assert learner.sms_opted_out is True


def test_resume_unpauses_the_learner(client, live, lesson):
    learner = _sms_task(live, lesson).learner
    LearnerDeliveryState.objects.create(learner=learner, paused_at=timezone.now())

    response = _sms(client, learner, "RESUME")

    assert b"back on" in response.content
    assert LearnerDeliveryState.objects.get(learner=learner).paused_at is None


def test_a_replayed_sms_is_handled_once(client, live, lesson):
    task = _sms_task(live, lesson)

    _sms(client, task.learner, "2")
    replay = _sms(client, task.learner, "2")

    assert replay.status_code == 200 and b"<Message>" not in replay.content
    assert AssessmentResult.objects.count() == 1
    assert InboundRequest.objects.filter(outcome="duplicate").count() == 1


def test_an_unsigned_sms_is_403_and_opts_nobody_out(client, live, lesson):
    learner = _sms_task(live, lesson).learner

    response = client.post(SMS_PATH, {"From": learner.phone, "Body": "STOP", "MessageSid": "SMx"})

    assert response.status_code == 403
    learner.refresh_from_db()
    assert learner.sms_opted_out is False and not ConsentRecord.objects.exists()


# --- Slack interactivity -------------------------------------------------------------------------


def _slack_payload(task, index, user_id=None):
    return {
        "type": "block_actions",
        "user": {"id": user_id or task.learner.slack_user_id},
        "container": {
            "channel_id": task.learner.slack_user_id,
            "message_ts": task.provider_message_id.split(":")[1],
        },
        "actions": [{"action_id": f"answer_{index}", "value": f"{task.pk}:{index}"}],
    }


def _slack_post(client, payload, *, timestamp=None, secret=SLACK_SIGNING_SECRET, signature=None):
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = signature or SignatureVerifier(secret).generate_signature(
        timestamp=timestamp, body=body
    )
    return client.generic(
        "POST",
        SLACK_PATH,
        body,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_SLACK_REQUEST_TIMESTAMP=timestamp,
        HTTP_X_SLACK_SIGNATURE=signature,
    )


def _slack_task(live, lesson):
    learner = LearnerFactory(preferred_channel="slack")
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)
    task_send(task_id=task.pk)
    return DeliveryTask.objects.get(pk=task.pk)


def test_a_signed_slack_answer_is_scored_and_the_message_updated(
    client, live, lesson, django_capture_on_commit_callbacks
):
    task = _slack_task(live, lesson)

    with django_capture_on_commit_callbacks(execute=True):
        response = _slack_post(client, _slack_payload(task, 0))

    assert response.status_code == 200
    result = AssessmentResult.objects.get(learner=task.learner)
    assert (result.user_answer, result.is_correct, result.channel) == (0, True, "slack")
    [update] = [r for r in live.accepted_for("slack") if r["method"] == "chat.update"]
    assert update["body"]["ts"] == task.provider_message_id.split(":")[1]
    assert "Correct!" in update["body"]["text"]


def test_a_forged_slack_request_is_403(client, live, lesson):
    task = _slack_task(live, lesson)

    response = _slack_post(client, _slack_payload(task, 0), secret="someone-elses-secret")

    assert response.status_code == 403
    assert not AssessmentResult.objects.exists()
    assert InboundRequest.objects.get().outcome == "bad_signature"


def test_a_stale_slack_request_is_403(client, live, lesson):
    task = _slack_task(live, lesson)

    response = _slack_post(client, _slack_payload(task, 0), timestamp=int(time.time()) - 6 * 60)

    assert response.status_code == 403
    assert not AssessmentResult.objects.exists()
    assert InboundRequest.objects.get().outcome == "stale"


def test_a_replayed_slack_request_is_403(client, live, lesson):
    task = _slack_task(live, lesson)
    timestamp = int(time.time())

    first = _slack_post(client, _slack_payload(task, 1), timestamp=timestamp)
    replay = _slack_post(client, _slack_payload(task, 1), timestamp=timestamp)

    assert (first.status_code, replay.status_code) == (200, 403)
    assert AssessmentResult.objects.count() == 1
    assert InboundRequest.objects.filter(outcome="replayed").count() == 1


def test_someone_else_pressing_the_button_scores_nothing(client, live, lesson):
    task = _slack_task(live, lesson)

    _slack_post(client, _slack_payload(task, 0, user_id="UINTRUDER"))

    assert not AssessmentResult.objects.exists()
    assert InboundRequest.objects.get().outcome == "wrong_user"


def test_a_malformed_slack_payload_is_400(client, live, lesson):
    _slack_task(live, lesson)

    response = _slack_post(client, {"type": "block_actions", "actions": []})

    assert response.status_code == 400
