"""The learner's whole journey through the API: sign up, learn, miss, review, finish."""

import datetime

import pytest
from django.utils import timezone

from assessments.selectors import next_lesson_for
from core.models import OutboxEvent
from learners.models import Learner
from tests.learners.factories import LearnerFactory
from tests.learners.support import configure_email, register

pytestmark = pytest.mark.django_db


def test_sign_up_learn_and_complete_onboarding_through_the_api(
    api_client, bank, settings, django_capture_on_commit_callbacks
):
    settings.LESSON_GENERATOR_URL = ""  # the authored bank only
    # given: a new associate on the HR roster registers (code by email) and signs in
    configure_email(settings)
    LearnerFactory(employee_id="EMP42", email="new.hire@frontline.test", user=None)
    password = "a-Long-pass-phrase-9"
    response = register(
        api_client,
        django_capture_on_commit_callbacks,
        employee_id="EMP42",
        email="new.hire@frontline.test",
        password=password,
    )
    assert response.status_code == 201
    token = api_client.post(
        "/api/v1/auth/token/", {"username": "EMP42", "password": password}
    ).json()["access"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    # when: the first lesson is missed
    first = api_client.get("/api/v1/me/lessons/next/").json()
    assert first["kind"] == "path" and first["lesson"]["topic"] == "returns-policy"
    missed = api_client.post(
        "/api/v1/me/answers/", {"microlesson_id": first["lesson"]["id"], "answer": 2}
    ).json()
    assert missed["is_correct"] is False and missed["review_due_at"]

    # then: the same topic continues with another lesson, answered right
    second = api_client.get("/api/v1/me/lessons/next/").json()
    assert second["lesson"]["topic"] == "returns-policy"
    assert second["lesson"]["id"] != first["lesson"]["id"]
    right = api_client.post(
        "/api/v1/me/answers/", {"microlesson_id": second["lesson"]["id"], "answer": 0}
    ).json()
    assert right["lesson_completed"] and right["advanced_paths"]

    # and the last topic finishes the path
    third = api_client.get("/api/v1/me/lessons/next/").json()
    assert third["lesson"]["topic"] == "customer-service"
    lesson = third["lesson"]
    answer = 1 if lesson["id"] == bank["lessons"]["service-1"].pk else 0
    done = api_client.post(
        "/api/v1/me/answers/", {"microlesson_id": lesson["id"], "answer": answer, "channel": "sms"}
    ).json()
    assert done["completed_paths"]
    [path] = api_client.get("/api/v1/me/paths/").json()
    assert path["status"] == "completed" and path["completion_percentage"] == "100.00"
    assert Learner.objects.get(employee_id="EMP42").onboarding_completed

    # the missed question is still scheduled to come back
    nothing_new = api_client.get("/api/v1/me/lessons/next/").json()
    assert nothing_new["kind"] == "none"
    assert api_client.get("/api/v1/me/score/").json()["answered"] == 3
    topics = list(OutboxEvent.objects.order_by("id").values_list("topic", flat=True))
    assert topics.count("assessment.answered") == 3
    assert topics.count("lesson.completed") == 2
    assert topics.count("path.completed") == 1
    # tomorrow the missed question comes back as a review
    tomorrow = next_lesson_for(
        Learner.objects.get(employee_id="EMP42"), now=timezone.now() + datetime.timedelta(days=1)
    )
    assert tomorrow.kind == "review" and tomorrow.microlesson.pk == first["lesson"]["id"]
