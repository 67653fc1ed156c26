"""Provider rate limits are held in the shared (Redis) limiter, per key."""

import pytest

from delivery.models import DeliveryTask, TaskState
from delivery.services import drain_due
from tests.delivery.factories import DeliveryTaskFactory
from tests.learners.factories import LearnerFactory

pytestmark = pytest.mark.django_db


def test_twilio_sends_share_one_limit_per_sender_number(live, lesson, settings):
    # given: one SMS per 100 s per sender, and no waiting for a slot
    settings.DELIVERY_RATE_LIMITS = {"slack": 0, "sms": 0.01, "email": 0, "webhook": 0}
    settings.DELIVERY_RATE_WAIT_SECONDS = 0
    tasks = [
        DeliveryTaskFactory(learner=LearnerFactory(preferred_channel="sms"), microlesson=lesson)
        for _ in range(2)
    ]
    # when
    counts = drain_due()
    # then: one went out, the other waits its turn without spending a retry
    assert counts == {"accepted": 1, "deferred": 1}
    assert len(live.accepted_for("twilio")) == 1
    waiting = DeliveryTask.objects.get(pk__in=[t.pk for t in tasks], state=TaskState.PENDING)
    assert waiting.retry_count == 0 and waiting.attempts.count() == 0
    assert waiting.next_attempt_at > tasks[0].next_attempt_at


def test_slack_limit_is_per_channel_so_different_users_do_not_wait(live, lesson, settings):
    settings.DELIVERY_RATE_LIMITS = {"slack": 0.01, "sms": 0, "email": 0, "webhook": 0}
    settings.DELIVERY_RATE_WAIT_SECONDS = 0
    for _ in range(3):
        DeliveryTaskFactory(learner=LearnerFactory(preferred_channel="slack"), microlesson=lesson)

    assert drain_due() == {"accepted": 3}
    assert len(live.accepted_for("slack")) == 3


def test_the_limit_is_shared_through_redis(live, lesson, settings, redis_client):
    settings.DELIVERY_RATE_LIMITS = {"slack": 0, "sms": 0.01, "email": 0, "webhook": 0}
    settings.DELIVERY_RATE_WAIT_SECONDS = 0
    DeliveryTaskFactory(learner=LearnerFactory(preferred_channel="sms"), microlesson=lesson)

    drain_due()

    assert redis_client.exists("ratelimit:delivery.sms:sms:+15550001111")
