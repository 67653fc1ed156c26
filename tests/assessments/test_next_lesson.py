import datetime

import pytest
from django.utils import timezone

from assessments.selectors import next_lesson_for
from assessments.services import submit_answer
from lessons import services as lesson_services
from tests.learners.factories import LearnerFactory
from tests.lessons.generator_server import Reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def enrolled(bank, settings):
    settings.LESSON_GENERATOR_URL = ""
    learner = LearnerFactory()
    path = lesson_services.learning_path_enrol(learner=learner, template=bank["onboarding"])
    return learner, path


def test_a_new_learner_gets_the_first_topic_of_their_path(bank, enrolled):
    learner, path = enrolled
    nxt = next_lesson_for(learner)
    assert nxt.kind == "path"
    assert nxt.learning_path == path and nxt.topic == bank["topics"]["returns"]
    assert nxt.microlesson == bank["lessons"]["returns-1"]
    assert nxt.source == "authored" and nxt.fallback_reason == "generator_not_configured"


def test_after_a_miss_the_same_topic_continues_with_another_lesson_then_the_review(bank, enrolled):
    # given: the learner missed returns-1 today
    learner, _path = enrolled
    now = timezone.now()
    submit_answer(learner=learner, microlesson=bank["lessons"]["returns-1"], answer=2, now=now)
    # when: later today — no review due yet, same topic, a lesson not asked before
    today = next_lesson_for(learner, now=now + datetime.timedelta(hours=2))
    # then
    assert today.kind == "path" and today.microlesson == bank["lessons"]["returns-2"]
    # when: tomorrow — the review is due and comes first
    tomorrow = next_lesson_for(learner, now=now + datetime.timedelta(days=1))
    assert tomorrow.kind == "review"
    assert tomorrow.microlesson == bank["lessons"]["returns-1"]
    assert tomorrow.review.box == 1


def test_after_a_correct_answer_the_next_topic_comes(bank, enrolled):
    learner, _path = enrolled
    submit_answer(learner=learner, microlesson=bank["lessons"]["returns-1"], answer=0)
    nxt = next_lesson_for(learner)
    assert nxt.kind == "path" and nxt.topic == bank["topics"]["service"]
    assert "topic 2 of 2" in nxt.reason


def test_a_completed_or_paused_path_gives_nothing(bank, enrolled):
    learner, path = enrolled
    lesson_services.learning_path_transition(path=path, transition="start")
    lesson_services.learning_path_transition(path=path, transition="pause")
    assert next_lesson_for(learner).kind == "none"
    lesson_services.learning_path_transition(path=path, transition="resume")
    submit_answer(learner=learner, microlesson=bank["lessons"]["returns-1"], answer=0)
    submit_answer(learner=learner, microlesson=bank["lessons"]["service-1"], answer=1)
    nothing = next_lesson_for(learner)
    assert nothing.kind == "none" and nothing.microlesson is None


def test_a_learner_without_paths_gets_nothing(db):
    assert next_lesson_for(LearnerFactory()).reason == "no active learning path"


def test_with_a_healthy_generator_the_path_lesson_is_generated(bank, enrolled, generator):
    learner, _path = enrolled
    nxt = next_lesson_for(learner)
    assert nxt.kind == "path" and nxt.source == "generated"
    assert nxt.microlesson.generated_for == learner


def test_with_a_failing_generator_the_learner_still_gets_a_lesson(bank, enrolled, generator):
    learner, _path = enrolled
    generator.default = Reply(status=503)
    settings_attempts = 1
    from lessons.generation import LessonGeneratorClient

    client = LessonGeneratorClient.from_settings(attempts=settings_attempts, sleep=lambda s: None)
    nxt = next_lesson_for(learner, client=client)
    assert nxt.kind == "path" and nxt.source == "authored"
    assert nxt.fallback_reason == "generator_failed"
    assert nxt.microlesson == bank["lessons"]["returns-1"]
