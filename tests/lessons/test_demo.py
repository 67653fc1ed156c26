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
