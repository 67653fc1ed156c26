"""Provider edges against the local stand-ins: Twilio's Retry-After on 429, Twilio's default
opt-in/opt-out/help keywords, the deploy check for DELIVERY_PUBLIC_BASE_URL, Slack text
escaped, reminders answerable the way each channel is read, and drains that re-queue
themselves while work remains."""

import datetime

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone

from delivery import tasks as delivery_tasks
from delivery.channels import ChannelError, OutboundMessage, Reason, SmsChannel
from delivery.checks import public_base_url_check
from delivery.messages import render, slack_escape
from delivery.models import ConsentRecord, DeliveryTask, TaskKind
from delivery.reminders import reminders_send
from delivery.services import drain_batch, task_send
from tests.delivery.conftest import FROM_NUMBER
from tests.delivery.factories import DeliveryTaskFactory
from tests.delivery.fakes import TWILIO_SID, TWILIO_TOKEN
from tests.delivery.test_inbound import _sms, _sms_task
from tests.learners.factories import LearnerFactory

pytestmark = pytest.mark.django_db


# --- Twilio 429 ----------------------------------------------------------------------------


def test_twilios_retry_after_on_429_is_read(live):
    live.fail_next("twilio", "rate_limited")  # 429 with Retry-After: 12
    channel = SmsChannel(
        account_sid=TWILIO_SID,
        auth_token=TWILIO_TOKEN,
        from_number=FROM_NUMBER,
        base_url=live.url,
    )
    with pytest.raises(ChannelError) as excinfo:
        channel.send("+15551234567", OutboundMessage(text="hi"))
    assert excinfo.value.reason == Reason.RATE_LIMITED
    assert excinfo.value.retry_after == 12


def test_a_task_rate_limited_by_twilio_waits_its_retry_after(live, lesson, settings):
    settings.DELIVERY_RETRY_DELAYS = [5, 15, 60]
    live.fail_next("twilio", "rate_limited")
    task = DeliveryTaskFactory(learner=LearnerFactory(preferred_channel="sms"), microlesson=lesson)
    now = timezone.now()
    assert task_send(task_id=task.pk, now=now).result == "retry_scheduled"
    task.refresh_from_db()
    assert task.next_attempt_at == now + datetime.timedelta(seconds=12)  # not 5


# --- SMS keywords ----------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["YES", "start", "Unstop", " yes "])
def test_twilios_opt_in_keywords_opt_the_learner_back_in(client, live, lesson, word):
    learner = _sms_task(live, lesson).learner
    _sms(client, learner, "STOP", sid="SM" + "1" * 32)
    learner.refresh_from_db()
    assert learner.sms_opted_out is True

    response = _sms(client, learner, word, sid="SM" + "2" * 32)

    learner.refresh_from_db()
    assert learner.sms_opted_out is False
    assert b"Welcome back" in response.content
    assert ConsentRecord.objects.latest("id").action == ConsentRecord.Action.OPT_IN


@pytest.mark.parametrize(
    "word",
    ["STOP", "stopall", "UNSUBSCRIBE", "cancel", "End", "QUIT", "optout", "REVOKE"],
)
def test_twilios_opt_out_keywords_opt_the_learner_out(client, live, lesson, word):
    learner = _sms_task(live, lesson).learner
    _sms(client, learner, word)
    learner.refresh_from_db()
    assert learner.sms_opted_out is True


@pytest.mark.parametrize("word", ["INFO", "help"])
def test_help_and_info_answer_with_the_keywords(client, live, lesson, word):
    learner = _sms_task(live, lesson).learner
    response = _sms(client, learner, word)
    assert b"Reply STOP" in response.content
    learner.refresh_from_db()
    assert learner.sms_opted_out is False


@pytest.mark.parametrize("body", ["stop it", "please stop", "yes please"])
def test_only_the_whole_message_is_a_keyword(client, live, lesson, body):
    learner = _sms_task(live, lesson).learner
    _sms(client, learner, body)
    learner.refresh_from_db()
    assert learner.sms_opted_out is False
    assert not ConsentRecord.objects.exists()


# --- the deploy check ------------------------------------------------------------------------


@pytest.mark.parametrize("base_url", ["", "http://localhost:8000", "http://127.0.0.1:8000"])
def test_check_deploy_fails_with_sms_and_no_public_base_url(live, settings, base_url):
    settings.DELIVERY_PUBLIC_BASE_URL = base_url
    [error] = public_base_url_check()
    assert error.id == "delivery.E001"
    with pytest.raises(SystemCheckError, match=r"delivery\.E001"):
        call_command("check", "--deploy", "--tag", "security")


def test_check_passes_with_a_public_base_url_or_without_sms(live, settings):
    settings.DELIVERY_PUBLIC_BASE_URL = "https://frontline.example.com"
    assert public_base_url_check() == []
    settings.DELIVERY_PUBLIC_BASE_URL = "http://localhost:8000"
    settings.TWILIO_ACCOUNT_SID = ""
    assert public_base_url_check() == []


# --- Slack text -------------------------------------------------------------------------------


def test_slack_escape_follows_slacks_three_entities():
    assert slack_escape("<!channel> & <https://evil.example|your bank>") == (
        "&lt;!channel&gt; &amp; &lt;https://evil.example|your bank&gt;"
    )


def test_lesson_text_and_learner_names_are_inert_in_slack(live, lesson):
    lesson.title = "Returns <!channel>"
    lesson.content = "See <https://evil.example|the policy> & more"
    lesson.save()
    learner = LearnerFactory(preferred_channel="slack")
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)
    task_send(task_id=task.pk)
    [sent] = live.accepted_for("slack")
    blocks = sent["body"]["blocks"]
    body = blocks[0]["text"]["text"]
    assert "<!channel>" not in body and "&lt;!channel&gt;" in body
    assert "&lt;https://evil.example|the policy&gt; &amp; more" in body
    assert "<" not in sent["body"]["text"]
    # a manager notice naming the learner is escaped the same way
    notice = DeliveryTaskFactory(
        learner=LearnerFactory(preferred_channel="slack"),
        kind=TaskKind.MANAGER_NOTICE,
        render_context={"text": "Ann <@U123> has paused lessons", "subject": "s"},
    )
    assert render(notice, "slack").text == "Ann &lt;@U123&gt; has paused lessons"
    assert render(notice, "sms").text == "Ann <@U123> has paused lessons"


# --- reminders: a way to answer that the channel reads ---------------------------------------

MORNING = datetime.datetime(2026, 3, 4, 9, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize("channel", ["slack", "sms", "email"])
def test_each_reminder_says_how_to_answer_on_its_channel(live, lesson, channel):
    learner = LearnerFactory(preferred_channel=channel, time_zone="UTC")
    task = DeliveryTaskFactory(
        learner=learner, microlesson=lesson, local_date=MORNING.date(), next_attempt_at=MORNING
    )
    task_send(task_id=task.pk, now=MORNING)
    DeliveryTask.objects.filter(pk=task.pk).update(accepted_at=MORNING)
    later = MORNING + datetime.timedelta(hours=2)
    reminders_send(now=later)
    reminder = DeliveryTask.objects.get(kind=TaskKind.REMINDER)

    message = render(reminder, channel)

    if channel == "slack":
        [buttons] = [b for b in message.blocks if b["type"] == "actions"]
        values = [element["value"] for element in buttons["elements"]]
        assert values == [f"{task.pk}:{i}" for i in range(4)]  # they answer the lesson
        assert "Reply 1-" not in message.text
    elif channel == "sms":
        assert message.text.endswith("Reply 1-4.")
    else:
        assert "/answer/" in message.text and "Reply 1-" not in message.text
    assert task_send(task_id=reminder.pk, now=later).result == "accepted"


def test_a_slack_reminder_button_answers_the_lesson(live, lesson):
    from delivery.inbound import slack_answer

    learner = LearnerFactory(preferred_channel="slack", time_zone="UTC")
    task = DeliveryTaskFactory(
        learner=learner, microlesson=lesson, local_date=MORNING.date(), next_attempt_at=MORNING
    )
    task_send(task_id=task.pk, now=MORNING)
    DeliveryTask.objects.filter(pk=task.pk).update(accepted_at=MORNING)
    reminders_send(now=MORNING + datetime.timedelta(hours=2))
    reminder = DeliveryTask.objects.get(kind=TaskKind.REMINDER)
    [buttons] = [b for b in render(reminder, "slack").blocks if b["type"] == "actions"]
    payload = {
        "user": {"id": learner.slack_user_id},
        "container": {"channel_id": learner.slack_user_id, "message_ts": "1.2"},
        "actions": [buttons["elements"][0]],
    }
    result, update = slack_answer(payload=payload)
    assert result.outcome == "answered" and result.task.pk == task.pk
    assert update.ts == "1.2" and "Correct!" in update.text


# --- drains re-queue themselves ----------------------------------------------------------------


def test_a_bounded_batch_says_when_work_remains(live, lesson):
    for _ in range(3):
        DeliveryTaskFactory(learner=LearnerFactory(preferred_channel="slack"), microlesson=lesson)
    first = drain_batch(limit=2)
    assert first.counts == {"accepted": 2} and first.more is True
    second = drain_batch(limit=2)
    assert second.counts == {"accepted": 1} and second.more is False


def _queued_drains(redis_client) -> list[dict]:
    """The drain messages waiting on the real broker's deliveries queue (no worker runs)."""
    import base64
    import json

    messages = [json.loads(raw) for raw in redis_client.lrange("deliveries", 0, -1)]
    bodies = [json.loads(base64.b64decode(m["body"])) for m in messages]
    return [body[1] for body in bodies]  # (args, kwargs, embed)


def test_a_drain_chain_queues_its_next_batch_until_the_backlog_is_gone(
    live, lesson, settings, tasks_queued, redis_client
):
    # given: 3 due lessons, batches of 2, and a chain holding slot 0
    settings.DELIVERY_DRAIN_BATCH = 2
    settings.DELIVERY_DRAIN_CONCURRENCY = 1
    for _ in range(3):
        DeliveryTaskFactory(learner=LearnerFactory(preferred_channel="slack"), microlesson=lesson)
    assert delivery_tasks.kick_drains() == 1
    [chain] = _queued_drains(redis_client)
    redis_client.delete("deliveries")
    # when: a worker runs the chain's batch
    delivery_tasks.drain_task.apply(kwargs=chain)
    # then: two went out and the chain queued its next batch, same slot and token
    assert len(live.accepted_for("slack")) == 2
    assert _queued_drains(redis_client) == [chain]
    redis_client.delete("deliveries")
    # and the next batch finishes the backlog, queues nothing more and frees the slot
    delivery_tasks.drain_task.apply(kwargs=chain)
    assert len(live.accepted_for("slack")) == 3
    assert _queued_drains(redis_client) == []
    assert delivery_tasks.kick_drains() == 1


def test_a_busy_slot_is_not_started_twice(live, settings):
    settings.DELIVERY_DRAIN_CONCURRENCY = 2
    from django.core.cache import cache

    cache.set("delivery:drain:slot:0", "someone-else", timeout=60)
    assert delivery_tasks.kick_drains() == 1  # only slot 1 was free
    assert delivery_tasks.drain_task.apply(kwargs={"slot": 0, "token": "stale"}).get() == {
        "superseded": 1
    }
