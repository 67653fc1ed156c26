import pytest
from django.contrib.auth import get_user_model

from learners.models import Learner
from lessons.models import LearningPath
from lessons.services import learning_path_enrol
from tests.learners.factories import LearnerFactory
from tests.learners.support import (
    REGISTER,
    configure_email,
    emailed_code,
    register,
    request_code,
)
from tests.lessons.factories import MicrolessonFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-Long-pass-phrase-9"


@pytest.fixture
def roster(settings):
    """EMP123 on the HR roster (as import_learners leaves it: no account yet)."""
    configure_email(settings)
    return LearnerFactory(employee_id="EMP123", email="john.doe@frontline.test", user=None)


# --- registration (claiming a roster entry) -----------------------------------------------


def test_registration_claims_the_roster_entry_and_enrols_onboarding(
    api_client, bank, roster, django_capture_on_commit_callbacks
):
    # when
    response = register(
        api_client,
        django_capture_on_commit_callbacks,
        employee_id="EMP123",
        email="john.doe@frontline.test",
        password=PASSWORD,
    )
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["employee_id"] == "EMP123" and body["id"] == roster.pk
    assert body["learning_path"]["template"] == "onboarding"
    assert body["learning_path"]["status"] == "not_started"
    assert "password" not in body
    # the new account can get a JWT and see itself
    token = api_client.post(
        "/api/v1/auth/token/", {"username": "EMP123", "password": PASSWORD}
    ).json()["access"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_client.get("/api/v1/me/").json()["email"] == "john.doe@frontline.test"


def test_registration_step_one_needs_an_employee_id_or_email(api_client, roster):
    response = api_client.post(REGISTER, {}, format="json")  # a rule across fields: 422
    assert response.status_code == 422 and "employee_id" in response.json()["errors"]
    response = api_client.post(REGISTER, {"email": "bad"}, format="json")
    assert response.status_code == 400 and "email" in response.json()["errors"]


def test_registration_step_two_needs_code_and_password(api_client, roster):
    response = api_client.post(REGISTER, {"employee_id": "EMP123", "code": "1"}, format="json")
    assert response.status_code == 422 and "password" in response.json()["errors"]
    response = api_client.post(
        REGISTER, {"employee_id": "EMP123", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 422 and "code" in response.json()["errors"]
    assert not get_user_model().objects.exists()


def test_a_weak_password_is_a_field_error_and_keeps_the_code(
    api_client, bank, roster, django_capture_on_commit_callbacks
):
    # given
    request_code(api_client, django_capture_on_commit_callbacks, employee_id="EMP123")
    code = emailed_code(roster.email)
    # when
    weak = api_client.post(
        REGISTER, {"employee_id": "EMP123", "code": code, "password": "123"}, format="json"
    )
    # then
    assert weak.status_code == 400 and "password" in weak.json()["errors"]
    assert not get_user_model().objects.exists()
    strong = api_client.post(
        REGISTER, {"employee_id": "EMP123", "code": code, "password": PASSWORD}, format="json"
    )
    assert strong.status_code == 201


def test_registration_without_an_onboarding_template_is_503_and_creates_nothing(
    api_client, roster, django_capture_on_commit_callbacks
):
    response = register(
        api_client,
        django_capture_on_commit_callbacks,
        employee_id="EMP123",
        email=roster.email,
        password=PASSWORD,
    )
    assert response.status_code == 503
    assert response.json()["code"] == "onboarding_not_configured"
    assert not get_user_model().objects.exists()
    assert Learner.objects.get(pk=roster.pk).user_id is None


def test_registration_is_throttled(api_client, bank, roster, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "registration": "2/hour",
        },
    }
    codes = [
        api_client.post(REGISTER, {"employee_id": "EMP123"}, format="json").status_code
        for _ in range(3)
    ]
    assert codes == [202, 202, 429]


# --- staff --------------------------------------------------------------------------------


def test_staff_lesson_api_needs_permissions_and_validates_the_quiz(
    api_client, staff_user, grant, bank
):
    api_client.force_authenticate(staff_user)
    assert api_client.get("/api/v1/lessons/").status_code == 403
    api_client.force_authenticate(grant(staff_user, "lessons.add_microlesson"))
    lesson = {
        "key": "new-lesson",
        "topic": "returns-policy",
        "title": "New",
        "difficulty": "beginner",
        "content": "c",
        "key_points": ["k"],
        "quiz_question": "q?",
        "quiz_options": ["a", "b"],
        "correct_answer": 2,
    }
    bad = api_client.post("/api/v1/lessons/", lesson, format="json")
    assert bad.status_code == 400 and "correct_answer" in bad.json()["errors"]
    bad = api_client.post(
        "/api/v1/lessons/", {**lesson, "quiz_options": ["a"], "correct_answer": 0}, format="json"
    )
    assert bad.status_code == 400 and "quiz_options" in bad.json()["errors"]
    # a NUL in the topic slug is a field error, not a database error
    bad = api_client.post(
        "/api/v1/lessons/", {**lesson, "topic": "returns\x00", "correct_answer": 1}, format="json"
    )
    assert bad.status_code == 400 and "topic" in bad.json()["errors"]
    ok = api_client.post("/api/v1/lessons/", {**lesson, "correct_answer": 1}, format="json")
    assert ok.status_code == 201, ok.json()


def test_staff_topics_and_templates(api_client, staff_user, grant, bank):
    api_client.force_authenticate(
        grant(staff_user, "lessons.view_topic", "lessons.add_pathtemplate")
    )
    assert api_client.get("/api/v1/topics/").json()["count"] == 2
    bad = api_client.post(
        "/api/v1/path-templates/",
        {"slug": "x", "title": "X", "topics": ["no-such-topic"]},
        format="json",
    )
    assert bad.status_code == 404 and bad.json()["details"]["field"] == "topics"


def test_staff_enrol_and_transition_paths(api_client, staff_user, grant, bank):
    learner = LearnerFactory()
    api_client.force_authenticate(
        grant(staff_user, "lessons.add_learningpath", "lessons.view_learningpath")
    )
    created = api_client.post(
        "/api/v1/learning-paths/", {"learner": learner.pk, "template": "onboarding"}, format="json"
    )
    assert created.status_code == 201
    again = api_client.post(
        "/api/v1/learning-paths/", {"learner": learner.pk, "template": "onboarding"}, format="json"
    )
    assert again.status_code == 409 and again.json()["code"] == "already_enrolled"
    url = f"/api/v1/learning-paths/{created.json()['id']}/transition/"
    assert api_client.post(url, {"transition": "start"}, format="json").status_code == 403
    api_client.force_authenticate(grant(staff_user, "lessons.change_learningpath"))
    assert api_client.post(url, {"transition": "start"}, format="json").json()["status"] == (
        "in_progress"
    )
    refused = api_client.post(url, {"transition": "complete"}, format="json")
    assert refused.status_code == 409
    assert refused.json()["message"] == "Cannot complete a path with 2 topic(s) left."


# --- self-service -------------------------------------------------------------------------


def test_my_paths_show_only_mine_and_another_learners_path_is_404(learner_client, bank):
    mine = learning_path_enrol(learner=learner_client.learner, template=bank["onboarding"])
    theirs = learning_path_enrol(learner=LearnerFactory(), template=bank["onboarding"])
    listed = learner_client.get("/api/v1/me/paths/").json()
    assert [p["id"] for p in listed] == [mine.pk]
    assert learner_client.get(f"/api/v1/me/paths/{mine.pk}/").status_code == 200
    assert learner_client.get(f"/api/v1/me/paths/{theirs.pk}/").status_code == 404
    assert learner_client.post(f"/api/v1/me/paths/{theirs.pk}/start/").status_code == 404


def test_a_learner_can_start_and_pause_but_not_complete_their_path(learner_client, bank):
    mine = learning_path_enrol(learner=learner_client.learner, template=bank["onboarding"])
    assert learner_client.post(f"/api/v1/me/paths/{mine.pk}/start/").json()["status"] == (
        "in_progress"
    )
    assert learner_client.post(f"/api/v1/me/paths/{mine.pk}/pause/").json()["status"] == "paused"
    assert learner_client.post(f"/api/v1/me/paths/{mine.pk}/pause/").status_code == 409
    assert learner_client.post(f"/api/v1/me/paths/{mine.pk}/complete/").status_code == 400
    assert LearningPath.objects.get(pk=mine.pk).status == "paused"


def test_my_lessons_hide_the_answer_and_another_learners_generated_lesson_is_404(
    learner_client, bank
):
    learning_path_enrol(learner=learner_client.learner, template=bank["onboarding"])
    other = LearnerFactory()
    theirs = MicrolessonFactory(
        key=None, source="generated", generated_for=other, topic=bank["topics"]["returns"]
    )
    listed = learner_client.get("/api/v1/me/lessons/").json()
    assert {lesson["id"] for lesson in listed} == {each.pk for each in bank["lessons"].values()}
    assert "correct_answer" not in listed[0] and "explanation" not in listed[0]
    assert learner_client.get(f"/api/v1/me/lessons/{theirs.pk}/").status_code == 404


def test_self_service_needs_authentication(api_client, bank):
    for url in ["/api/v1/me/paths/", "/api/v1/me/lessons/", "/api/v1/me/paths/1/"]:
        assert api_client.get(url).status_code == 401


def test_registration_accepts_the_seed_nested_learner_body(
    api_client, bank, roster, django_capture_on_commit_callbacks
):
    # given
    with django_capture_on_commit_callbacks(execute=True):
        asked = api_client.post(REGISTER, {"learner": {"employee_id": "EMP123"}}, format="json")
    assert asked.status_code == 202
    # when
    body = {"employee_id": "EMP123", "code": emailed_code(roster.email), "password": PASSWORD}
    response = api_client.post(REGISTER, {"learner": body}, format="json")
    # then
    assert response.status_code == 201, response.json()
    assert response.json()["learning_path"]["name"] == "New associate onboarding"


def test_deleting_a_lesson_that_was_delivered_is_a_409_naming_what_holds_it(
    api_client, staff_user, grant
):
    # given: a lesson a delivery task points at (a protected foreign key)
    from lessons.models import Microlesson
    from tests.delivery.factories import DeliveryTaskFactory

    lesson = MicrolessonFactory()
    DeliveryTaskFactory(microlesson=lesson)
    api_client.force_authenticate(grant(staff_user, "lessons.delete_microlesson"))
    # when
    response = api_client.delete(f"/api/v1/lessons/{lesson.pk}/")
    # then
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "protected"
    assert body["referenced_by"] == ["delivery tasks"]
    assert Microlesson.objects.filter(pk=lesson.pk).exists()
