"""The gift card code of a completion reward reaches the learner over their real channel
(Slack, Twilio and SMTP fakes on 127.0.0.1), with fallback and retries, and only once."""

import logging

import pytest

from core.models import OutboxEvent, ProcessedEvent
from core.outbox import dispatch_event
from lessons.rewards import services
from lessons.rewards.models import PathReward
from tests.learners.factories import LearnerFactory
from tests.lessons.rewards_support import (
    CODE,
    code_matches_card,
    completed_path,
    rewarded_template,
    store,
)

pytestmark = pytest.mark.django_db

SEND_HANDLER = "delivery.handlers.on_path_reward_issued"


def issued_reward(learner) -> tuple[PathReward, OutboxEvent]:
    template = rewarded_template()
    reward = services.path_reward_grant(
        learning_path_id=completed_path(template, learner=learner).pk
    )
    event = OutboxEvent.objects.get(topic="path.reward_issued", payload__path_reward_id=reward.pk)
    return reward, event


def slack_texts(providers) -> list[dict]:
    return [r["body"] for r in providers.accepted_for("slack") if r["method"] == "chat.postMessage"]


def test_the_code_goes_to_the_learners_slack(live, caplog):
    caplog.set_level(logging.DEBUG)
    learner = LearnerFactory(preferred_channel="slack", store=store())
    reward, event = issued_reward(learner)
    # when
    assert dispatch_event(event_pk=event.pk, handler=SEND_HANDLER) is True
    # then: one Slack message to the learner's Slack id, with the card's code
    [body] = slack_texts(live)
    assert body["channel"] == learner.slack_user_id
    [code] = CODE.findall(body["text"])
    assert code_matches_card(code, reward.gift_card)
    reward.refresh_from_db()
    assert reward.code_channel == "slack" and reward.sealed_code == ""
    assert live.smtp.messages == []
    assert all(code not in repr(record.__dict__) for record in caplog.records)


def test_a_channel_that_refuses_falls_back_to_the_next(live, caplog):
    caplog.set_level(logging.DEBUG)
    learner = LearnerFactory(preferred_channel="slack")
    reward, event = issued_reward(learner)
    live.fail_next("slack", "channel_not_found")
    # when
    dispatch_event(event_pk=event.pk, handler=SEND_HANDLER)
    # then: the email fallback carried the code; the log says why, without the code
    [envelope] = live.smtp.messages
    assert envelope.rcpt_tos == [learner.email]
    [code] = set(CODE.findall(envelope.content.decode()))
    assert code_matches_card(code, reward.gift_card)
    reward.refresh_from_db()
    assert reward.code_channel == "email"
    refusals = [r for r in caplog.records if r.getMessage() == "reward code refused by channel"]
    assert refusals and refusals[0].channel == "slack"
    assert all(code not in repr(record.__dict__) for record in caplog.records)


def test_a_temporary_error_leaves_the_send_owed_and_a_retry_sends_it_once(live):
    learner = LearnerFactory(preferred_channel="slack")
    reward, event = issued_reward(learner)
    live.fail_next("slack", "server_error")
    # when: the first run fails on a 5xx
    with pytest.raises(Exception, match="Slack"):
        dispatch_event(event_pk=event.pk, handler=SEND_HANDLER)
    # then: the run is still owed and the sealed code kept
    assert not ProcessedEvent.objects.filter(handler=SEND_HANDLER).exists()
    reward.refresh_from_db()
    assert reward.sealed_code and reward.code_sent_at is None
    # when: the outbox retries, and then delivers the event once more
    assert dispatch_event(event_pk=event.pk, handler=SEND_HANDLER) is True
    assert dispatch_event(event_pk=event.pk, handler=SEND_HANDLER) is False
    # then: exactly one message reached the learner
    assert len(slack_texts(live)) == 1
    reward.refresh_from_db()
    assert reward.code_sent_at is not None


def test_a_second_event_for_a_sent_reward_sends_nothing(live):
    learner = LearnerFactory(preferred_channel="slack")
    _reward, event = issued_reward(learner)
    dispatch_event(event_pk=event.pk, handler=SEND_HANDLER)
    again = OutboxEvent.objects.create(topic="path.reward_issued", payload=event.payload)
    dispatch_event(event_pk=again.pk, handler=SEND_HANDLER)
    assert len(slack_texts(live)) == 1


def test_a_forged_sealed_code_is_not_sent(live, caplog):
    learner = LearnerFactory(preferred_channel="slack")
    reward, event = issued_reward(learner)
    PathReward.objects.filter(pk=reward.pk).update(sealed_code="forged")
    dispatch_event(event_pk=event.pk, handler=SEND_HANDLER)
    assert slack_texts(live) == []
    assert "reward code unavailable" in [r.getMessage() for r in caplog.records]


def test_staff_can_send_a_refused_code_again_from_the_admin(
    live, admin_client, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from core.outbox import publish_pending

    # given: a learner reachable on Slack only, whose Slack refused the first send
    learner = LearnerFactory(preferred_channel="slack", email_opted_out=True, sms_opted_out=True)
    reward, event = issued_reward(learner)
    live.fail_next("slack", "channel_not_found")
    assert dispatch_event(event_pk=event.pk, handler=SEND_HANDLER) is True
    reward.refresh_from_db()
    assert reward.code_sent_at is None and reward.sealed_code
    # when: staff send it again (the Slack id is fixed meanwhile)
    url = reverse("admin:lessons_pathreward_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url, {"action": "resend_code", "_selected_action": [reward.pk]}, follow=True
        )
        publish_pending()
    # then: the code reached Slack; a second resend is refused as already sent
    assert "Code sends queued: 1; 0 skipped" in response.content.decode()
    [body] = slack_texts(live)
    assert code_matches_card(CODE.findall(body["text"])[0], reward.gift_card)
    response = admin_client.post(
        url, {"action": "resend_code", "_selected_action": [reward.pk]}, follow=True
    )
    assert "Code sends queued: 0; 1 skipped" in response.content.decode()
