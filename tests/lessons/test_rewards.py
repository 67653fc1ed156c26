"""Completion rewards: path.completed → a gift card through GiftCardService, once per learner
and path, within the cohort's monthly budget, and the code sent to the learner."""

import datetime
import logging
from decimal import Decimal

import pytest
from celery.signals import task_prerun
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.models import OutboxEvent
from core.outbox import dispatch_event, handlers_for, publish_pending
from delivery.models import SinkMessage
from gift_cards.models import GiftCard, GiftCardTransaction
from lessons import services as lesson_services
from lessons.models import Microlesson, PathTemplate
from lessons.rewards import services
from lessons.rewards.models import PathReward, RewardBudget, RewardStatus
from lessons.rewards.tasks import path_rewards_issue_pending_task
from tests.learners.factories import LearnerFactory
from tests.lessons.factories import LearningPathFactory
from tests.lessons.rewards_support import (
    CODE,
    code_matches_card,
    completed_path,
    rewarded_template,
    store,
)

pytestmark = pytest.mark.django_db

REWARD_HANDLER = "lessons.rewards.handlers.on_path_completed"
SEND_HANDLER = "delivery.handlers.on_path_reward_issued"


@pytest.fixture
def task_args():
    """Every task's arguments as it starts (tests run Celery eagerly)."""
    seen = []

    def record(sender=None, args=None, kwargs=None, **extra):
        seen.append((sender.name, repr(args), repr(kwargs)))

    task_prerun.connect(record, weak=False)
    yield seen
    task_prerun.disconnect(record)


def complete_through_answers(learner, template, capture):
    """Enrol, then complete the template's lessons; publish and run every handler."""
    with capture(execute=True):
        path = lesson_services.learning_path_enrol(learner=learner, template=template)
        for slug in template.topics:
            lesson = Microlesson.objects.filter(topic__slug=slug).first()
            lesson_services.lesson_complete(learner=learner, microlesson=lesson, channel="web")
        publish_pending()
    while True:  # the handlers' own events (path.reward_issued) are published after them
        with capture(execute=True):
            if not publish_pending():
                break
    path.refresh_from_db()
    return path


# --- end to end through the outbox --------------------------------------------------------


def test_completing_a_rewarded_path_issues_a_card_and_sends_the_code_over_the_learners_channel(
    django_capture_on_commit_callbacks, caplog, task_args
):
    # given: a rewarded onboarding path and a learner who prefers email (no provider: sink)
    template = rewarded_template()
    learner = LearnerFactory(store=store(), preferred_channel="email")
    caplog.set_level(logging.DEBUG)
    # when: the learner answers their way to the end of the path
    path = complete_through_answers(learner, template, django_capture_on_commit_callbacks)
    # then: one reward, issued, with a gift card of the template's amount
    assert path.status == "completed"
    reward = PathReward.objects.get(learner=learner, template=template)
    assert reward.status == RewardStatus.ISSUED
    assert (reward.amount, reward.currency) == (Decimal("10.00"), "USD")
    card = reward.gift_card
    assert card.original_amount == Decimal("10.00") and card.current_balance == Decimal("10.00")
    assert card.purchaser_id == f"lessons:path-reward:{reward.pk}"
    assert GiftCardTransaction.objects.filter(gift_card=card, transaction_type="creation").count()
    # and the code went to the learner's email address, once, and matches the card
    [message] = SinkMessage.objects.filter(address=learner.email)
    assert message.channel == "email"
    [code] = CODE.findall(message.text)
    assert code_matches_card(code, card)
    reward.refresh_from_db()
    assert reward.code_sent_at is not None and reward.code_channel == "email"
    assert reward.sealed_code == ""  # nothing left to open once sent
    # and the code is in no log line, no task argument and no event payload
    for record in caplog.records:
        assert code not in record.getMessage()
        assert code not in repr(record.__dict__)
    assert task_args and all(code not in a and code not in k for _n, a, k in task_args)
    assert not [e for e in OutboxEvent.objects.all() if code in repr(e.payload)]
    topics = list(OutboxEvent.objects.values_list("topic", flat=True))
    assert topics.count("path.completed") == 1 and topics.count("path.reward_issued") == 1


def test_the_handlers_are_subscribed():
    assert REWARD_HANDLER in handlers_for("path.completed")
    assert SEND_HANDLER in handlers_for("path.reward_issued")


def test_a_redelivered_event_issues_nothing_more(django_capture_on_commit_callbacks):
    template = rewarded_template()
    learner = LearnerFactory(store=store())
    complete_through_answers(learner, template, django_capture_on_commit_callbacks)
    event = OutboxEvent.objects.get(topic="path.completed")
    # when: the same event is dispatched again, and a second event for the same path arrives
    assert dispatch_event(event_pk=event.pk, handler=REWARD_HANDLER) is False
    with django_capture_on_commit_callbacks(execute=True):
        again = OutboxEvent.objects.create(topic="path.completed", payload=event.payload)
        dispatch_event(event_pk=again.pk, handler=REWARD_HANDLER)
    # then: still one reward, one card, one message
    assert PathReward.objects.count() == 1
    assert GiftCard.objects.count() == 1
    assert SinkMessage.objects.filter(address=learner.email).count() == 1


def test_a_path_without_a_reward_issues_nothing(django_capture_on_commit_callbacks):
    template = rewarded_template()
    PathTemplate.objects.filter(pk=template.pk).update(
        reward_amount=None, reward_monthly_budget=None, reward_currency=""
    )
    template.refresh_from_db()
    learner = LearnerFactory()
    path = complete_through_answers(learner, template, django_capture_on_commit_callbacks)
    assert path.status == "completed"
    assert not PathReward.objects.exists() and not GiftCard.objects.exists()
    assert not OutboxEvent.objects.filter(topic="path.reward_issued").exists()


def test_an_unfinished_or_templateless_path_issues_nothing():
    template = rewarded_template()
    open_path = LearningPathFactory(template=template, topics=list(template.topics))
    loose = LearningPathFactory(template=None, topics=["x"])
    assert services.path_reward_grant(learning_path_id=open_path.pk) is None
    assert services.path_reward_grant(learning_path_id=loose.pk) is None
    assert services.path_reward_grant(learning_path_id=999_999) is None
    assert not PathReward.objects.exists()


# --- budgets --------------------------------------------------------------------------------


def test_a_spent_budget_leaves_the_reward_pending_and_issues_no_card():
    # given: budget for two rewards in one store
    template = rewarded_template(amount="10.00", budget="20.00")
    cohort = store()
    rewards = [
        services.path_reward_grant(learning_path_id=completed_path(template, cohort=cohort).pk)
        for _ in range(3)
    ]
    # then: two issued, the third waits for budget, without a card
    assert [r.status for r in rewards] == ["issued", "issued", "pending_budget"]
    assert rewards[2].gift_card_id is None and rewards[2].sealed_code == ""
    assert GiftCard.objects.count() == 2
    assert not OutboxEvent.objects.filter(
        topic="path.reward_issued", payload__path_reward_id=rewards[2].pk
    ).exists()


def test_budgets_are_per_cohort():
    template = rewarded_template(amount="10.00", budget="10.00")
    north, south = store("North"), store("South")
    a = services.path_reward_grant(learning_path_id=completed_path(template, cohort=north).pk)
    b = services.path_reward_grant(learning_path_id=completed_path(template, cohort=south).pk)
    c = services.path_reward_grant(learning_path_id=completed_path(template, cohort=north).pk)
    assert (a.status, b.status, c.status) == ("issued", "issued", "pending_budget")
    assert (a.cohort_id, b.cohort_id) == (north.pk, south.pk)
    assert RewardBudget.objects.filter(template=template).count() == 2


def test_learners_without_a_cohort_share_one_budget():
    template = rewarded_template(amount="10.00", budget="10.00")
    first = services.path_reward_grant(learning_path_id=completed_path(template).pk)
    second = services.path_reward_grant(learning_path_id=completed_path(template).pk)
    assert (first.status, second.status) == ("issued", "pending_budget")
    assert RewardBudget.objects.filter(template=template, cohort__isnull=True).count() == 1


def test_raising_the_budget_lets_the_sweep_issue_pending_rewards_oldest_first(
    django_capture_on_commit_callbacks,
):
    # given: budget for one; three completions
    template = rewarded_template(amount="10.00", budget="10.00")
    cohort = store()
    rewards = [
        services.path_reward_grant(learning_path_id=completed_path(template, cohort=cohort).pk)
        for _ in range(3)
    ]
    assert [r.status for r in rewards] == ["issued", "pending_budget", "pending_budget"]
    # when: staff raise this cohort's month budget to 20 and the sweep runs
    RewardBudget.objects.filter(template=template, cohort=cohort).update(
        budget_amount=Decimal("20.00")
    )
    with django_capture_on_commit_callbacks(execute=True):
        issued = path_rewards_issue_pending_task.delay().get()
    # then: the oldest pending is issued, the youngest still waits
    assert issued == 1
    statuses = [PathReward.objects.get(pk=r.pk).status for r in rewards]
    assert statuses == ["issued", "issued", "pending_budget"]
    assert sum(r.amount for r in PathReward.objects.filter(status="issued")) == Decimal("20.00")
    assert GiftCard.objects.count() == 2


def test_raising_the_templates_budget_also_releases_pending_rewards():
    template = rewarded_template(amount="10.00", budget="10.00")
    reward_ids = [
        services.path_reward_grant(learning_path_id=completed_path(template, cohort=store()).pk).pk
        for _ in range(2)
    ]
    PathTemplate.objects.filter(pk=template.pk).update(reward_monthly_budget=Decimal("50.00"))
    result = services.path_rewards_issue_pending()
    assert (result.issued, result.still_pending) == (1, 0)
    assert set(PathReward.objects.filter(pk__in=reward_ids).values_list("status", flat=True)) == {
        "issued"
    }


def test_next_months_budget_issues_last_months_pending_rewards():
    template = rewarded_template(amount="10.00", budget="10.00")
    cohort = store()
    first = services.path_reward_grant(learning_path_id=completed_path(template, cohort=cohort).pk)
    second = services.path_reward_grant(learning_path_id=completed_path(template, cohort=cohort).pk)
    assert second.status == "pending_budget"
    this_month = second.month
    # given: the month is over (move the issued reward and the budget row a month back)
    last_month = (this_month - datetime.timedelta(days=1)).replace(day=1)
    PathReward.objects.filter(pk__in=[first.pk, second.pk]).update(month=last_month)
    RewardBudget.objects.filter(template=template).update(month=last_month)
    # when: the sweep runs in the new month
    result = services.path_rewards_issue_pending()
    # then: the pending reward is issued against the new month's budget
    second.refresh_from_db()
    assert result.issued == 1
    assert second.status == "issued" and second.month == this_month
    assert RewardBudget.objects.filter(template=template, month=this_month).count() == 1


def test_a_refused_card_marks_the_reward_failed_without_spending(settings):
    # given: a reward over the gift card maximum (the template was saved before it changed)
    template = rewarded_template(amount="100.00", budget="500.00")
    settings.GIFT_CARD_MAX_AMOUNTS = {"*": "50"}
    reward = services.path_reward_grant(learning_path_id=completed_path(template).pk)
    assert reward.status == RewardStatus.FAILED
    assert reward.failure_reason.startswith("invalid_amount")
    assert not GiftCard.objects.exists()
    assert services.budget_spent(
        template_id=template.pk, cohort_id=None, month=reward.month
    ) == Decimal("0")
    # when: the sweep runs, then the maximum is raised and staff retry it
    assert services.path_rewards_issue_pending().issued == 0
    settings.GIFT_CARD_MAX_AMOUNTS = {"*": "2000"}
    result = services.path_rewards_issue_pending(reward_ids=[reward.pk], retry_failed=True)
    # then: only the explicit retry issues it
    reward.refresh_from_db()
    assert result.issued == 1 and reward.status == "issued" and reward.failure_reason == ""
    assert GiftCard.objects.get().original_amount == Decimal("100.00")


# --- the template's reward fields ------------------------------------------------------------


def test_database_refuses_a_reward_without_budget_or_with_a_budget_below_the_amount():
    template = rewarded_template()
    for changes in (
        {"reward_monthly_budget": None},
        {"reward_monthly_budget": Decimal("5.00")},
        {"reward_amount": Decimal("0"), "reward_monthly_budget": Decimal("5.00")},
        {"reward_currency": ""},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            PathTemplate.objects.filter(pk=template.pk).update(**changes)


def test_clean_explains_reward_mistakes():
    template = rewarded_template()
    template.reward_monthly_budget = Decimal("5.00")
    with pytest.raises(ValidationError) as excinfo:
        template.full_clean()
    assert "reward_monthly_budget" in excinfo.value.message_dict
    template.reward_monthly_budget = Decimal("50.00")
    template.reward_currency = "XXX"
    with pytest.raises(ValidationError) as excinfo:
        template.full_clean()
    assert "reward_currency" in excinfo.value.message_dict
    template.reward_currency = "usd"
    template.full_clean()
    assert template.reward_currency == "USD"


def test_one_reward_per_learner_and_template_is_a_database_constraint():
    template = rewarded_template()
    reward = services.path_reward_grant(learning_path_id=completed_path(template).pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        PathReward.objects.create(
            learner=reward.learner,
            template=template,
            month=reward.month,
            amount=Decimal("10.00"),
            currency="USD",
            completed_at=reward.completed_at,
        )


def test_the_sweep_is_scheduled_and_records_its_run(settings):
    from config.celery_app import app as celery_app
    from core.models import JobRun

    entry = settings.CELERY_BEAT_SCHEDULE["lessons-issue-pending-rewards"]
    assert entry["task"] == "lessons.issue_pending_rewards"
    assert "lessons.issue_pending_rewards" in celery_app.tasks
    template = rewarded_template(amount="10.00", budget="10.00")
    for _ in range(2):
        services.path_reward_grant(learning_path_id=completed_path(template).pk)
    # when: the sweep runs with the budget still spent
    assert path_rewards_issue_pending_task.delay().get() == 0
    # then: its run is in Job runs with what it did
    run = JobRun.objects.filter(name="lessons.issue_pending_rewards").latest("id")
    assert run.status == "succeeded"
    assert run.counts == {"issued": 0, "still_pending": 1}


# --- the learner's own rewards (API) ---------------------------------------------------------


def test_a_learner_lists_only_their_own_rewards_without_the_code(learner_client, api_client):
    template = rewarded_template(amount="10.00", budget="10.00")
    mine = services.path_reward_grant(
        learning_path_id=completed_path(template, learner=learner_client.learner).pk
    )
    services.path_reward_grant(learning_path_id=completed_path(template).pk)  # someone else's
    # when
    response = learner_client.get("/api/v1/me/rewards/")
    # then: one reward, theirs, with the masked card and no code
    assert response.status_code == 200
    [row] = response.json()
    assert row["id"] == mine.pk and row["status"] == "issued"
    assert (row["amount"], row["currency"]) == ("10.00", "USD")
    assert row["gift_card"] == mine.gift_card.masked_code
    assert not CODE.search(response.content.decode())


def test_the_rewards_list_needs_a_learner_profile(api_client, staff_user):
    assert api_client.get("/api/v1/me/rewards/").status_code == 401
    # an account without a learner has no rewards to see: 404, like any object it cannot see
    api_client.force_authenticate(staff_user)
    assert api_client.get("/api/v1/me/rewards/").status_code == 404
