"""Completion rewards under concurrency: real threads, each with its own PostgreSQL connection."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from core.models import OutboxEvent, ProcessedEvent
from core.outbox import dispatch_event
from gift_cards.models import GiftCard
from lessons.rewards import services
from lessons.rewards.models import PathReward, RewardBudget
from tests.concurrency import run_in_threads
from tests.lessons.rewards_support import completed_path, rewarded_template, store

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8
REWARD_HANDLER = "lessons.rewards.handlers.on_path_completed"


def test_concurrent_completions_never_spend_past_the_budget():
    # given: budget for 3 rewards in one store, 8 learners who completed the path
    template = rewarded_template(amount="10.00", budget="30.00")
    cohort = store()
    paths = [completed_path(template, cohort=cohort) for _ in range(THREADS)]
    # when: all 8 completions are rewarded at the same instant
    results, errors = run_in_threads(
        *[lambda p=p: services.path_reward_grant(learning_path_id=p.pk).status for p in paths]
    )
    # then: exactly 3 issued, 5 pending, and the issued sum is within the budget
    assert errors == [None] * THREADS
    assert sorted(results) == ["issued"] * 3 + ["pending_budget"] * 5
    issued = PathReward.objects.filter(status="issued")
    assert issued.count() == 3 == GiftCard.objects.count()
    assert issued.aggregate(total=Sum("amount"))["total"] == Decimal("30.00")
    assert PathReward.objects.filter(status="pending_budget").count() == 5
    assert RewardBudget.objects.count() == 1  # first completions raced to one budget row


def test_concurrent_duplicate_events_issue_one_card():
    # given: one completed path and four events for it (a republished event, say)
    template = rewarded_template()
    path = completed_path(template, cohort=store())
    payload = {"learning_path_id": path.pk, "learner_id": path.learner_id, "template": "onboarding"}
    events = [OutboxEvent.objects.create(topic="path.completed", payload=payload) for _ in range(4)]
    # when: each is handled at the same instant, and the first one twice
    jobs = [lambda e=e: dispatch_event(event_pk=e.pk, handler=REWARD_HANDLER) for e in events]
    jobs.append(lambda: dispatch_event(event_pk=events[0].pk, handler=REWARD_HANDLER))
    results, errors = run_in_threads(*jobs)
    # then: every distinct event ran once; the learner has one reward and one card
    assert errors == [None] * len(jobs)
    assert sorted(results) == [False] + [True] * 4
    assert ProcessedEvent.objects.filter(handler=REWARD_HANDLER).count() == 4
    assert PathReward.objects.count() == 1 and GiftCard.objects.count() == 1
    assert PathReward.objects.get().status == "issued"


def test_concurrent_sweeps_issue_each_pending_reward_once_within_the_budget():
    # given: 6 pending rewards, then the budget raised to fit 4 in total
    template = rewarded_template(amount="10.00", budget="10.00")
    cohort = store()
    for _ in range(6):
        services.path_reward_grant(learning_path_id=completed_path(template, cohort=cohort).pk)
    assert PathReward.objects.filter(status="pending_budget").count() == 5
    RewardBudget.objects.update(budget_amount=Decimal("40.00"))
    # when: four sweeps run at once
    results, errors = run_in_threads(*[services.path_rewards_issue_pending for _ in range(4)])
    # then: 3 more issued in all, no reward twice, the budget holds
    assert errors == [None] * 4
    assert sum(r.issued for r in results) == 3
    issued = PathReward.objects.filter(status="issued")
    assert issued.count() == 4 == GiftCard.objects.count()
    assert issued.aggregate(total=Sum("amount"))["total"] == Decimal("40.00")
    assert PathReward.objects.filter(status="pending_budget").count() == 2
