"""Provider edges against real servers: Twilio's status callback arriving before our commit
of the send (the stand-in calls our live server before it answers messages.create), a
task stuck in transit settled from Twilio's own record (GET Messages/{sid}), and Slack
answers acknowledged at once while a failing chat.update is only logged."""

import datetime
import json
import time
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from slack_sdk.signature import SignatureVerifier

from assessments.models import AssessmentResult
from core.models import JobRun
from delivery.models import AttemptStatus, DeliveryTask, InboundRequest, TaskState
from delivery.services import reconcile_in_transit, task_send
from delivery.tasks import reconcile_in_transit_task
from tests.delivery.conftest import (  # noqa: F401
    SLACK_SIGNING_SECRET,
    lesson,
    live,
    providers,
    smtp_sink,
)
from tests.delivery.factories import DeliveryTaskFactory
from tests.learners.factories import LearnerFactory

HOURS_LATER = datetime.timedelta(hours=2)


def _sms_task(lesson):  # noqa: F811
    learner = LearnerFactory(preferred_channel="sms")
    return DeliveryTaskFactory(learner=learner, microlesson=lesson)


def _reload(task):
    return DeliveryTask.objects.get(pk=task.pk)


# --- a status callback before our commit -----------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_callback_that_beats_our_commit_is_kept_and_applied(
    live,  # noqa: F811
    lesson,  # noqa: F811
    live_server,
    settings,
):
    # given: Twilio reports "delivered" to our web server before it answers the send
    settings.DELIVERY_PUBLIC_BASE_URL = live_server.url
    live.report_before_answering("delivered")
    task = _sms_task(lesson)

    # when
    outcome = task_send(task_id=task.pk)

    # then: the callback found the attempt in flight and was kept (not "unknown"), and
    # applied when the send committed: the task is delivered, not stuck in transit
    assert outcome.result == "accepted"
    [callback] = live.callbacks
    assert callback["status"] == 204
    inbound = InboundRequest.objects.get(kind="status_callback")
    assert inbound.outcome == "kept_early" and inbound.signature_ok
    task = _reload(task)
    assert task.state == TaskState.DELIVERED and task.delivered_at is not None
    attempt = task.attempts.get()
    assert attempt.status == AttemptStatus.DELIVERED
    assert attempt.metadata["early_reports"][0]["status"] == "delivered"


@pytest.mark.django_db(transaction=True)
def test_an_early_failure_report_returns_the_task_and_falls_back(
    live,  # noqa: F811
    lesson,  # noqa: F811
    live_server,
    settings,
):
    settings.DELIVERY_PUBLIC_BASE_URL = live_server.url
    live.report_before_answering("undelivered")
    task = _sms_task(lesson)

    task_send(task_id=task.pk)

    task = _reload(task)
    assert task.channels_tried == ["sms"]
    assert (task.state, task.next_attempt_at is not None) == (TaskState.RETURNED, True)
    assert task_send(task_id=task.pk).channel == "slack"  # the fallback goes out


# --- stuck in transit ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_task_stuck_in_transit_is_settled_from_twilios_record(live, lesson):  # noqa: F811
    # given: an SMS Twilio accepted and delivered, whose callback never reached us
    task = _sms_task(lesson)
    task_send(task_id=task.pk)
    task = _reload(task)
    assert task.state == TaskState.IN_TRANSIT
    live.set_status(task.provider_message_id, "delivered")
    # when: the reconcile job runs past the in-transit deadline
    assert reconcile_in_transit() == {}  # not overdue yet
    counts = reconcile_in_transit(now=timezone.now() + HOURS_LATER)
    # then: the status was fetched from Twilio and applied
    assert counts == {"reconciled_delivered": 1}
    [fetch] = [r for r in live.requests if r.get("method") == "fetch"]
    assert fetch["path"].endswith(f"/Messages/{task.provider_message_id}.json")
    task = _reload(task)
    assert task.state == TaskState.DELIVERED and task.reconciled_at is not None
    assert task.attempts.get().metadata["reconciled_status"] == "delivered"


@pytest.mark.django_db
def test_reconciling_an_undelivered_sms_falls_back_and_a_message_twilio_lost_too(
    live,  # noqa: F811
    lesson,  # noqa: F811
):
    undelivered, unknown, moving = _sms_task(lesson), _sms_task(lesson), _sms_task(lesson)
    for task in (undelivered, unknown, moving):
        task_send(task_id=task.pk)
    live.set_status(_reload(undelivered).provider_message_id, "undelivered")
    live.statuses.pop(_reload(unknown).provider_message_id)  # Twilio answers 404
    live.set_status(_reload(moving).provider_message_id, "sending")

    counts = reconcile_in_transit(now=timezone.now() + HOURS_LATER)

    assert counts == {"reconciled_returned_fallback": 2, "still_in_progress": 1}
    for task in (undelivered, unknown):
        task = _reload(task)
        assert task.state == TaskState.RETURNED and task.channels_tried == ["sms"]
    assert _reload(moving).state == TaskState.IN_TRANSIT


@pytest.mark.django_db
def test_the_beat_job_reconciles_and_leaves_twilio_outages_for_later(
    live,  # noqa: F811
    lesson,  # noqa: F811
    settings,
):
    settings.DELIVERY_IN_TRANSIT_DEADLINE_SECONDS = 0
    task = _sms_task(lesson)
    task_send(task_id=task.pk)
    live.down("twilio")
    reconcile_in_transit_task.apply()
    assert _reload(task).state == TaskState.IN_TRANSIT  # Twilio down: tried again next run
    live.up("twilio")
    live.set_status(_reload(task).provider_message_id, "sent")  # carrier took it, no receipt
    reconcile_in_transit_task.apply()
    assert _reload(task).state == TaskState.DELIVERED
    runs = JobRun.objects.filter(name="delivery.reconcile_in_transit").order_by("started_at")
    assert [run.counts for run in runs] == [
        {"provider_unavailable": 1},
        {"reconciled_delivered": 1},
    ]


@pytest.mark.django_db
def test_reconciled_tasks_are_found_in_the_admin(admin_client, live, lesson):  # noqa: F811
    task = _sms_task(lesson)
    task_send(task_id=task.pk)
    live.set_status(_reload(task).provider_message_id, "delivered")
    reconcile_in_transit(now=timezone.now() + HOURS_LATER)
    response = admin_client.get("/admin/delivery/deliverytask/", {"reconciled_at__isnull": "False"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


# --- Slack: ack at once, update from a task ----------------------------------------------


def _slack_post(client, task, index):
    payload = {
        "type": "block_actions",
        "user": {"id": task.learner.slack_user_id},
        "container": {
            "channel_id": task.learner.slack_user_id,
            "message_ts": task.provider_message_id.split(":")[1],
        },
        "actions": [{"action_id": f"answer_{index}", "value": f"{task.pk}:{index}"}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SLACK_SIGNING_SECRET).generate_signature(
        timestamp=timestamp, body=body
    )
    return client.generic(
        "POST",
        "/webhooks/slack/interactivity",
        body,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_SLACK_REQUEST_TIMESTAMP=timestamp,
        HTTP_X_SLACK_SIGNATURE=signature,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("failure", ["message_not_found", "edit_window_closed", "unavailable"])
def test_a_failing_chat_update_never_fails_the_answer(
    client,
    live,  # noqa: F811
    lesson,  # noqa: F811
    django_capture_on_commit_callbacks,
    caplog,
    failure,
):
    # given: a Slack lesson, and chat.update about to fail
    learner = LearnerFactory(preferred_channel="slack")
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)
    task_send(task_id=task.pk)
    task = _reload(task)
    live.fail_next("slack", failure)

    # when: the learner presses an answer button
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _slack_post(client, task, 0)
        # then: Slack had its 200 before any chat.update was attempted
        assert response.status_code == 200
        assert not [r for r in live.requests if r["method"] == "chat.update"]

    # and: the update ran after the commit, failed, and was logged, not raised
    assert len(callbacks) == 1
    assert len([r for r in live.requests if r["method"] == "chat.update"]) == 1
    assert any("Slack message update failed" in r.getMessage() for r in caplog.records)
    # the answer is stored and the inbound log has its row
    result = AssessmentResult.objects.get(learner=learner)
    assert (result.user_answer, result.channel) == (0, "slack")
    log = InboundRequest.objects.get(kind="interactivity")
    assert (log.outcome, log.status_code, log.task_id) == ("answered", 200, task.pk)
