import pytest

from assessments.models import AssessmentResult
from lessons.services import learning_path_enrol
from tests.learners.factories import LearnerFactory
from tests.lessons.factories import MicrolessonFactory

pytestmark = pytest.mark.django_db

ANSWERS = "/api/v1/me/answers/"


@pytest.fixture
def enrolled_client(learner_client, bank, settings):
    settings.LESSON_GENERATOR_URL = ""
    learning_path_enrol(learner=learner_client.learner, template=bank["onboarding"])
    return learner_client


def test_submitting_a_correct_answer_scores_and_advances(enrolled_client, bank):
    lesson = bank["lessons"]["returns-1"]
    response = enrolled_client.post(
        ANSWERS, {"microlesson_id": lesson.pk, "answer": 0, "time_taken": 30}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["is_correct"] and body["counted"] and body["lesson_completed"]
    assert body["explanation"] == lesson.explanation
    assert len(body["advanced_paths"]) == 1
    assert body["result"]["channel"] == "web"
    nxt = enrolled_client.get("/api/v1/me/lessons/next/").json()
    assert nxt["kind"] == "path" and nxt["lesson"]["topic"] == "customer-service"
    assert enrolled_client.get("/api/v1/me/score/").json() == {
        "answered": 1,
        "correct": 1,
        "score_percentage": 100.0,
    }


def test_a_wrong_answer_reports_the_review(enrolled_client, bank):
    lesson = bank["lessons"]["returns-1"]
    body = enrolled_client.post(
        ANSWERS, {"microlesson_id": lesson.pk, "answer": 1}, format="json"
    ).json()
    assert body["is_correct"] is False and body["correct_answer"] == 0
    assert body["review_due_at"] is not None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"answer": 9}, "answer"),
        ({"answer": "two"}, "answer"),
        ({"answer": 0, "time_taken": -1}, "time_taken"),
        ({"answer": 0, "channel": "pigeon"}, "channel"),
        ({}, "answer"),
    ],
)
def test_bad_answers_are_400_with_field_errors(enrolled_client, bank, payload, field):
    lesson = bank["lessons"]["returns-1"]
    response = enrolled_client.post(
        ANSWERS, {"microlesson_id": lesson.pk, **payload}, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not AssessmentResult.objects.exists()


def test_answering_another_learners_lesson_is_404(enrolled_client, bank):
    theirs = MicrolessonFactory(
        key=None,
        source="generated",
        generated_for=LearnerFactory(),
        topic=bank["topics"]["returns"],
    )
    response = enrolled_client.post(
        ANSWERS, {"microlesson_id": theirs.pk, "answer": 0}, format="json"
    )
    assert response.status_code == 404
    assert (
        enrolled_client.post(
            ANSWERS, {"microlesson_id": 999999, "answer": 0}, format="json"
        ).status_code
        == 404
    )


def test_my_answers_list_only_mine(enrolled_client, bank):
    other = LearnerFactory()
    AssessmentResult.objects.create(
        learner=other, microlesson=bank["lessons"]["returns-1"], user_answer=0, is_correct=True
    )
    enrolled_client.post(
        ANSWERS, {"microlesson_id": bank["lessons"]["returns-1"].pk, "answer": 0}, format="json"
    )
    mine = enrolled_client.get(ANSWERS).json()
    assert len(mine) == 1 and mine[0]["learner"] == enrolled_client.learner.pk


def test_results_api_is_staff_only_by_permission(
    api_client, staff_user, grant, learner_client, bank
):
    url = "/api/v1/assessment-results/"
    assert api_client.get(url).status_code in (401, 403)
    assert learner_client.get(url).status_code == 403
    from rest_framework.test import APIClient

    anonymous = APIClient()
    assert anonymous.get(url).status_code == 401
    staff = APIClient()
    staff.force_authenticate(staff_user)
    assert staff.get(url).status_code == 403
    staff.force_authenticate(grant(staff_user, "assessments.view_assessmentresult"))
    assert staff.get(url).status_code == 200
    assert anonymous.post(ANSWERS, {}, format="json").status_code == 401
