import json

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from core.models import OutboxEvent
from learners.errors import VerificationCodeInvalidError
from learners.models import Learner
from lessons import services
from lessons.errors import AlreadyEnrolledError, LessonBankError, PathTransitionError
from lessons.models import LearningPath, LessonCompletion, Microlesson, PathTemplate, Topic
from lessons.services import OnboardingNotConfiguredError
from tests.commits import committed
from tests.learners.factories import LearnerFactory
from tests.learners.support import configure_email, emailed_code
from tests.lessons.factories import LearningPathFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-Long-pass-phrase-9"


def _topics(events):
    return [e.topic for e in events]


@pytest.fixture
def roster(settings):
    configure_email(settings)
    return LearnerFactory(
        employee_id="EMP123", email="john.doe@frontline.test", role="manager", user=None
    )


def _code(roster, capture) -> str:
    with committed(capture):
        services.learner_registration_request(employee_id=roster.employee_id)
    return emailed_code(roster.email)


# --- registration -----------------------------------------------------------------------


def test_registration_claims_the_roster_entry_and_enrols_onboarding(
    bank, roster, django_capture_on_commit_callbacks
):
    # given
    code = _code(roster, django_capture_on_commit_callbacks)
    # when
    registration = services.learner_register(employee_id="EMP123", code=code, password=PASSWORD)
    # then
    learner = registration.learner
    assert learner.pk == roster.pk and learner.role == "manager"
    assert learner.user.username == "EMP123"
    assert learner.user.email == "john.doe@frontline.test"
    assert learner.user.check_password(PASSWORD)
    path = registration.learning_path
    assert path.learner == learner
    assert path.template == bank["onboarding"]
    assert path.name == "New associate onboarding"
    assert path.status == LearningPath.Status.NOT_STARTED
    assert path.topics == ["returns-policy", "customer-service"]
    assert path.current_position == 0
    assert "learner.registered" in _topics(OutboxEvent.objects.all())


def test_registration_by_roster_email_works_too(bank, roster, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.learner_registration_request(email="JOHN.DOE@frontline.test")
    code = emailed_code(roster.email)
    registration = services.learner_register(
        email="john.doe@frontline.test", code=code, password=PASSWORD
    )
    assert registration.learner.pk == roster.pk


def test_registration_with_a_weak_password_creates_no_account(
    bank, roster, django_capture_on_commit_callbacks
):
    code = _code(roster, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError) as excinfo:
        services.learner_register(employee_id="EMP123", code=code, password="123")
    assert "password" in excinfo.value.message_dict
    assert get_user_model().objects.count() == 0
    assert Learner.objects.get(pk=roster.pk).user_id is None


def test_registration_rolls_back_the_account_when_enrolment_fails(
    db, roster, django_capture_on_commit_callbacks
):
    # given: no onboarding template, so the step after creating the account fails
    assert not PathTemplate.objects.exists()
    code = _code(roster, django_capture_on_commit_callbacks)
    # when
    with pytest.raises(OnboardingNotConfiguredError):
        services.learner_register(employee_id="EMP123", code=code, password=PASSWORD)
    # then
    assert get_user_model().objects.count() == 0
    assert Learner.objects.get(pk=roster.pk).user_id is None
    # only the code request of step 1 was published; nothing of the failed claim
    assert list(OutboxEvent.objects.values_list("topic", flat=True)) == [
        "learner.verification_requested"
    ]


# --- enrolment and transitions --------------------------------------------------------------


def test_enrolling_twice_in_one_template_is_refused(bank):
    learner = LearnerFactory()
    services.learning_path_enrol(learner=learner, template=bank["onboarding"])
    with pytest.raises(AlreadyEnrolledError):
        services.learning_path_enrol(learner=learner, template=bank["onboarding"])
    assert LearningPath.objects.filter(learner=learner).count() == 1


def test_transition_service_applies_and_refuses_with_a_clear_error():
    path = LearningPathFactory(topics=["a", "b"])
    path = services.learning_path_transition(path=path, transition="start")
    assert LearningPath.objects.get(pk=path.pk).status == "in_progress"
    with pytest.raises(PathTransitionError) as excinfo:
        services.learning_path_transition(path=path, transition="resume")
    assert excinfo.value.message == "Cannot resume a path that is in progress."
    assert excinfo.value.status_code == 409
    with pytest.raises(PathTransitionError) as excinfo:
        services.learning_path_transition(path=path, transition="complete")
    assert excinfo.value.message == "Cannot complete a path with 2 topic(s) left."
    with pytest.raises(PathTransitionError):
        services.learning_path_transition(path=path, transition="explode")


# --- completion and progress --------------------------------------------------------------


def test_completing_a_lesson_of_the_current_topic_advances_and_finally_completes(bank):
    # given
    learner = LearnerFactory()
    path = services.learning_path_enrol(learner=learner, template=bank["onboarding"])
    returns_lesson = bank["lessons"]["returns-1"]
    service_lesson = bank["lessons"]["service-1"]
    # when: the first topic's lesson
    outcome = services.lesson_complete(learner=learner, microlesson=returns_lesson)
    # then
    path = LearningPath.objects.get(pk=path.pk)
    assert outcome.newly_completed and outcome.advanced_paths == [path]
    assert path.status == "in_progress" and path.started_at is not None
    assert path.current_position == 1
    assert str(path.completion_percentage) == "50.00"
    # when: the last topic's lesson
    outcome = services.lesson_complete(learner=learner, microlesson=service_lesson)
    # then
    path = LearningPath.objects.get(pk=path.pk)
    assert outcome.completed_paths == [path]
    assert path.status == "completed" and path.completed_at is not None
    assert path.completion_percentage == 100
    learner.refresh_from_db()
    assert learner.onboarding_completed is True
    topics = _topics(OutboxEvent.objects.order_by("id"))
    assert topics == ["lesson.completed", "lesson.completed", "path.completed"]


def test_completing_the_same_lesson_twice_counts_once(bank):
    learner = LearnerFactory()
    path = services.learning_path_enrol(learner=learner, template=bank["onboarding"])
    lesson = bank["lessons"]["returns-1"]
    services.lesson_complete(learner=learner, microlesson=lesson)
    again = services.lesson_complete(learner=learner, microlesson=lesson)
    assert again.newly_completed is False
    assert LessonCompletion.objects.filter(learner=learner).count() == 1
    assert LearningPath.objects.get(pk=path.pk).current_position == 1


def test_a_lesson_off_the_current_topic_completes_but_does_not_advance(bank):
    learner = LearnerFactory()
    path = services.learning_path_enrol(learner=learner, template=bank["onboarding"])
    outcome = services.lesson_complete(learner=learner, microlesson=bank["lessons"]["service-1"])
    assert outcome.newly_completed and outcome.advanced_paths == []
    assert LearningPath.objects.get(pk=path.pk).current_position == 0


def test_a_paused_path_resumes_when_the_learner_completes_its_lesson(bank):
    learner = LearnerFactory()
    path = services.learning_path_enrol(learner=learner, template=bank["onboarding"])
    services.learning_path_transition(path=path, transition="start")
    services.learning_path_transition(path=path, transition="pause")
    services.lesson_complete(learner=learner, microlesson=bank["lessons"]["returns-1"])
    path = LearningPath.objects.get(pk=path.pk)
    assert path.status == "in_progress" and path.current_position == 1


# --- lesson bank import -------------------------------------------------------------------

BANK = {
    "topics": [
        {
            "slug": "returns-policy",
            "title": "Returns policy",
            "description": "d",
            "tags": ["returns", "policy"],
        },
        {"slug": "customer-service", "title": "Customer service", "tags": ["service"]},
    ],
    "lessons": [
        {
            "key": "returns-policy-receipts",
            "topic": "returns-policy",
            "title": "Receipts",
            "difficulty": "beginner",
            "content": "Ask for the receipt.",
            "key_points": ["Receipt first"],
            "scenario": "A kettle comes back.",
            "quiz_question": "First step?",
            "quiz_options": ["Receipt", "Refund", "Shrug"],
            "correct_answer": 0,
            "explanation": "Proof of purchase.",
        },
        {
            "key": "service-greeting",
            "topic": "customer-service",
            "title": "Greeting",
            "difficulty": "intermediate",
            "content": "Greet within 10 seconds.",
            "key_points": ["Smile"],
            "scenario": "Busy Saturday.",
            "quiz_question": "When to greet?",
            "quiz_options": ["At once", "Never"],
            "correct_answer": 0,
            "explanation": "First impressions.",
        },
    ],
    "paths": [
        {
            "slug": "onboarding",
            "title": "New associate onboarding",
            "description": "",
            "topics": ["customer-service", "returns-policy"],
        }
    ],
}


def test_bank_import_loads_everything_and_is_idempotent_on_keys(db):
    # when
    first = services.lesson_bank_import(data=BANK)
    changed = json.loads(json.dumps(BANK))
    changed["lessons"][0]["title"] = "Receipts, always"
    second = services.lesson_bank_import(data=changed)
    # then
    assert (first.topics_created, first.lessons_created, first.paths_created) == (2, 2, 1)
    assert (second.lessons_created, second.lessons_updated) == (0, 2)
    assert Topic.objects.count() == 2 and Microlesson.objects.count() == 2
    assert Microlesson.objects.get(key="returns-policy-receipts").title == "Receipts, always"
    assert PathTemplate.objects.get(slug="onboarding").topics == [
        "customer-service",
        "returns-policy",
    ]


def test_bank_import_refuses_an_invalid_bank_listing_every_problem_and_writes_nothing(db):
    bad = json.loads(json.dumps(BANK))
    bad["lessons"][0]["correct_answer"] = 3
    bad["lessons"][1]["topic"] = "unknown-topic"
    bad["paths"][0]["topics"] = ["nope"]
    with pytest.raises(LessonBankError) as excinfo:
        services.lesson_bank_import(data=bad)
    errors = excinfo.value.extra["errors"]
    assert any("lessons[0]: correct_answer" in e for e in errors)
    assert any("lessons[1]: topic" in e for e in errors)
    assert any("paths[0]: topics" in e for e in errors)
    assert Topic.objects.count() == 0 and Microlesson.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_with_the_one_code_give_one_account(bank, settings):
    from tests.concurrency import run_in_threads

    # given
    configure_email(settings)
    roster = LearnerFactory(employee_id="EMP123", email="john.doe@frontline.test", user=None)
    services.learner_registration_request(employee_id="EMP123")  # autocommit: sent at once
    code = emailed_code(roster.email)

    def claim() -> str:
        try:
            services.learner_register(employee_id="EMP123", code=code, password=PASSWORD)
            return "created"
        except VerificationCodeInvalidError:
            return "invalid_code"

    # when
    outcomes, errors = run_in_threads(claim, claim, claim)
    # then
    assert errors == [None, None, None]
    assert sorted(outcomes) == ["created", "invalid_code", "invalid_code"]
    assert get_user_model().objects.count() == 1
    assert LearningPath.objects.count() == 1
