import io
import json

import pytest

from learners.models import Learner
from lessons import demo
from lessons.models import LearningPath
from tests.lessons.test_services import BANK

pytestmark = pytest.mark.django_db


def test_demo_seed_loads_the_bank_learners_and_paths_and_is_rerunnable(tmp_path, monkeypatch):
    # given: a small bank standing in for the starter bank
    bank = tmp_path / "starter_bank.json"
    bank.write_text(json.dumps(BANK))
    monkeypatch.setattr(demo, "STARTER_BANK", bank)
    out = io.StringIO()
    # when
    demo.seed(stdout=out)
    demo.seed(stdout=out)
    # then
    assert Learner.objects.filter(employee_id__startswith="DEMO").count() == 6
    assert Learner.objects.get(employee_id="DEMO003").manager.employee_id == "DEMO002"
    assert Learner.objects.get(employee_id="DEMO002").user.username == "DEMO002"
    assert LearningPath.objects.filter(template__slug="onboarding").count() == 6
    finished = LearningPath.objects.get(learner__employee_id="DEMO006")
    assert finished.status == "completed"
    assert Learner.objects.get(employee_id="DEMO006").onboarding_completed
    assert LearningPath.objects.get(learner__employee_id="DEMO003").current_position == 1


def test_demo_seed_gives_onboarding_a_reward_that_completing_it_earns(
    tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    from decimal import Decimal

    from core.outbox import publish_pending
    from lessons.models import PathTemplate
    from lessons.rewards.models import PathReward

    bank = tmp_path / "starter_bank.json"
    bank.write_text(json.dumps(BANK))
    monkeypatch.setattr(demo, "STARTER_BANK", bank)
    # when: the demo is seeded and its events handled (as the worker of `make run` does)
    with django_capture_on_commit_callbacks(execute=True):
        demo.seed(stdout=io.StringIO())
        publish_pending()
    # then: onboarding carries the demo reward and DEMO006, who completed it, earned it
    template = PathTemplate.objects.get(slug="onboarding")
    assert (template.reward_amount, template.reward_currency) == (Decimal("10.00"), "GBP")
    assert template.reward_monthly_budget == Decimal("20.00")
    reward = PathReward.objects.get(learner__employee_id="DEMO006")
    assert reward.status == "issued" and reward.gift_card.currency == "GBP"
    # and a second run leaves a reward staff changed alone
    PathTemplate.objects.filter(pk=template.pk).update(reward_monthly_budget=Decimal("50.00"))
    demo.seed(stdout=io.StringIO())
    template.refresh_from_db()
    assert template.reward_monthly_budget == Decimal("50.00")


def test_on_the_demo_data_hybrid_beats_most_popular():
    from lessons.models import InteractionType, LearnerInteraction
    from lessons.recommendations.evaluation import BASELINE, evaluate

    # given: the real starter bank and the demo associates' history
    demo.seed(stdout=io.StringIO())
    history = LearnerInteraction.objects.filter(learner__employee_id__startswith="DEMO1")
    assert history.filter(type=InteractionType.COMPLETED).count() > 100
    # when
    scores = evaluate(k=10)
    # then
    assert scores["hybrid"].learners >= 10
    assert scores["hybrid"].ndcg > scores[BASELINE].ndcg
    # and seeding again makes no second history
    before = history.count()
    demo.seed(stdout=io.StringIO())
    assert history.count() == before
