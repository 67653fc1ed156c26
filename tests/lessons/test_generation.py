import pytest

from core.resilience import CircuitBreaker
from lessons.errors import LessonGeneratorError
from lessons.generation import (
    LessonGeneratorClient,
    generator_breaker,
    lesson_obtain_for_topic,
)
from lessons.models import Microlesson
from tests.learners.factories import LearnerFactory
from tests.lessons.generator_server import GOOD_LESSON, Reply

pytestmark = pytest.mark.django_db


def _client(**overrides) -> LessonGeneratorClient:
    return LessonGeneratorClient.from_settings(sleep=lambda _s: None, **overrides)


def test_a_200_gives_a_saved_generated_lesson_private_to_the_learner(bank, generator):
    # given
    learner = LearnerFactory(employee_id="EMP77")
    # when
    choice = lesson_obtain_for_topic(
        learner=learner, topic=bank["topics"]["returns"], difficulty="beginner", client=_client()
    )
    # then
    assert choice.source == "generated" and choice.fallback_reason is None
    lesson = choice.microlesson
    assert lesson.source == Microlesson.Source.GENERATED and lesson.generated_for == learner
    assert lesson.key is None
    assert lesson.quiz_options == GOOD_LESSON["lesson"]["quiz_options"]
    assert lesson.topic == bank["topics"]["returns"]
    assert generator.requests == [
        {
            "path": "/api/v1/generate-lesson",
            "body": {"topic": "returns-policy", "learner_id": "EMP77", "difficulty": "beginner"},
        }
    ]


def test_a_503_is_retried_and_then_succeeds(bank, generator):
    generator.replies.extend([Reply(status=503), Reply(status=503)])
    choice = lesson_obtain_for_topic(
        learner=LearnerFactory(), topic=bank["topics"]["returns"], client=_client()
    )
    assert choice.source == "generated"
    assert len(generator.requests) == 3


def test_a_generator_that_keeps_answering_503_falls_back_to_the_authored_bank(bank, generator):
    generator.default = Reply(status=503)
    choice = lesson_obtain_for_topic(
        learner=LearnerFactory(),
        topic=bank["topics"]["returns"],
        difficulty="beginner",
        client=_client(),
    )
    assert choice.source == "authored" and choice.fallback_reason == "generator_failed"
    assert choice.microlesson == bank["lessons"]["returns-1"]
    assert len(generator.requests) == 3  # every attempt was made


def test_a_slow_generator_times_out_and_falls_back(bank, generator):
    generator.default = Reply.json(GOOD_LESSON)
    generator.default.delay = 1.0  # longer than the 0.3 s timeout
    choice = lesson_obtain_for_topic(
        learner=LearnerFactory(), topic=bank["topics"]["service"], client=_client(attempts=1)
    )
    assert choice.source == "authored" and choice.fallback_reason == "generator_failed"
    assert choice.microlesson.topic == bank["topics"]["service"]


@pytest.mark.parametrize(
    "reply",
    [
        Reply(body=b"{not json"),
        Reply.json({"lesson": "a string"}),
        Reply.json({"nothing": True}),
        Reply.json({"lesson": {**GOOD_LESSON["lesson"], "correct_answer": 5}}),
        Reply.json({"lesson": {**GOOD_LESSON["lesson"], "quiz_options": ["only"]}}),
        Reply.json({"lesson": {**GOOD_LESSON["lesson"], "content": ""}}),
    ],
    ids=["malformed", "lesson-not-object", "no-lesson", "bad-index", "one-option", "no-content"],
)
def test_malformed_or_invalid_json_is_not_retried_and_falls_back(bank, generator, reply):
    generator.default = reply
    choice = lesson_obtain_for_topic(
        learner=LearnerFactory(), topic=bank["topics"]["returns"], client=_client()
    )
    assert choice.source == "authored" and choice.fallback_reason == "generator_failed"
    assert len(generator.requests) == 1
    assert not Microlesson.objects.filter(source="generated").exists()


def test_the_client_raises_its_own_error_for_bad_json(generator):
    generator.default = Reply(body=b"<html>oops</html>")
    with pytest.raises(LessonGeneratorError):
        _client().generate(topic="t", learner_id="E1", difficulty="beginner")


def test_an_open_circuit_skips_the_generator_and_uses_the_bank(bank, generator):
    # given: two failed calls open the breaker (threshold 2 in the fixture)
    generator.default = Reply(status=503)
    client = _client(attempts=1)
    learner = LearnerFactory()
    for _ in range(2):
        lesson_obtain_for_topic(learner=learner, topic=bank["topics"]["returns"], client=client)
    assert generator_breaker().state == CircuitBreaker.OPEN
    calls_before = len(generator.requests)
    # when
    generator.default = Reply.json(GOOD_LESSON)
    choice = lesson_obtain_for_topic(
        learner=learner, topic=bank["topics"]["returns"], client=client
    )
    # then
    assert choice.source == "authored" and choice.fallback_reason == "circuit_open"
    assert len(generator.requests) == calls_before  # the generator was not called


def test_without_a_url_the_bank_is_used(bank, settings):
    settings.LESSON_GENERATOR_URL = ""
    choice = lesson_obtain_for_topic(learner=LearnerFactory(), topic=bank["topics"]["returns"])
    assert choice.source == "authored" and choice.fallback_reason == "generator_not_configured"


def test_fallback_prefers_the_path_difficulty_and_skips_completed_lessons(bank, settings):
    from lessons.models import LessonCompletion
    from tests.lessons.factories import MicrolessonFactory

    settings.LESSON_GENERATOR_URL = ""
    learner = LearnerFactory()
    hard = MicrolessonFactory(topic=bank["topics"]["returns"], difficulty="advanced")
    choice = lesson_obtain_for_topic(
        learner=learner, topic=bank["topics"]["returns"], difficulty="advanced"
    )
    assert choice.microlesson == hard
    LessonCompletion.objects.create(learner=learner, microlesson=hard)
    choice = lesson_obtain_for_topic(
        learner=learner, topic=bank["topics"]["returns"], difficulty="advanced"
    )
    assert choice.microlesson == bank["lessons"]["returns-1"]
