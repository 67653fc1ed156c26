import json

import pytest
from django.urls import reverse

from assessments.services import submit_answer
from learners.models import Learner
from lessons.models import LearningPath
from lessons.services import learning_path_enrol
from tests.learners.factories import CohortFactory, LearnerFactory

pytestmark = pytest.mark.django_db


def test_learner_changelist_searches_and_filters(admin_client, bank):
    store = CohortFactory(name="Leeds")
    LearnerFactory(last_name="Hopper", role="manager", store=store)
    LearnerFactory(last_name="Turing")
    url = reverse("admin:learners_learner_changelist")
    page = admin_client.get(url, {"q": "hopp"})
    assert page.status_code == 200
    content = page.content.decode()
    assert "Hopper" in content and "Turing" not in content
    for params in (
        {"role__exact": "manager"},
        {"preferred_channel__exact": "sms"},
        {"onboarding_completed__exact": "0"},
        {"store__id__exact": store.pk},
    ):
        assert admin_client.get(url, params).status_code == 200
    filtered = admin_client.get(url, {"role__exact": "manager"}).content.decode()
    assert "Hopper" in filtered and "Turing" not in filtered


def test_change_channel_action_refuses_learners_without_an_address(admin_client):
    reachable = LearnerFactory(slack_user_id="U1")
    unreachable = LearnerFactory(slack_user_id="")
    response = admin_client.post(
        reverse("admin:learners_learner_changelist"),
        {"action": "change_channel_to_slack", "_selected_action": [reachable.pk, unreachable.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert Learner.objects.get(pk=reachable.pk).preferred_channel == "slack"
    assert Learner.objects.get(pk=unreachable.pk).preferred_channel == "email"
    assert "Not changed" in response.content.decode()


def test_enrol_action_and_paths_inline(admin_client, bank):
    learner = LearnerFactory()
    response = admin_client.post(
        reverse("admin:learners_learner_changelist"),
        {"action": "enrol_in_onboarding", "_selected_action": [learner.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert LearningPath.objects.filter(learner=learner, template=bank["onboarding"]).exists()
    page = admin_client.get(reverse("admin:learners_learner_change", args=[learner.pk]))
    assert page.status_code == 200 and "New associate onboarding" in page.content.decode()


def test_learning_path_admin_shows_and_applies_fsm_transitions(admin_client, bank):
    learner = LearnerFactory()
    path = learning_path_enrol(learner=learner, template=bank["onboarding"])
    url = reverse("admin:lessons_learningpath_change", args=[path.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="_fsm_transition_to"' in page and 'value="start"' in page
    form = {
        "learner": learner.pk,
        "template": bank["onboarding"].pk,
        "name": path.name,
        "difficulty": path.difficulty,
        "topics": json.dumps(path.topics),
        "_fsm_transition_to": "start",
    }
    assert admin_client.post(url, form).status_code == 302
    assert LearningPath.objects.get(pk=path.pk).status == "in_progress"
    # complete is guarded: refused while topics remain
    admin_client.post(url, {**form, "_fsm_transition_to": "complete"})
    assert LearningPath.objects.get(pk=path.pk).status == "in_progress"


def test_lesson_topic_template_and_result_pages_render(admin_client, bank):
    learner = LearnerFactory()
    learning_path_enrol(learner=learner, template=bank["onboarding"])
    submit_answer(learner=learner, microlesson=bank["lessons"]["returns-1"], answer=1)
    for name in (
        "lessons_topic",
        "lessons_microlesson",
        "lessons_pathtemplate",
        "lessons_learningpath",
        "assessments_assessmentresult",
        "assessments_reviewitem",
    ):
        assert admin_client.get(reverse(f"admin:{name}_changelist")).status_code == 200
    lesson = bank["lessons"]["returns-1"]
    assert (
        admin_client.get(reverse("admin:lessons_microlesson_change", args=[lesson.pk])).status_code
        == 200
    )
