import datetime
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from assessments.models import AssessmentResult, ReviewItem
from assessments.selectors import learner_score
from assessments.services import submit_answer
from core.models import OutboxEvent
from lessons import services as lesson_services
from lessons.models import LearningPath, LessonCompletion
from tests.learners.factories import LearnerFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


@pytest.fixture
def enrolled(bank):
    learner = LearnerFactory()
    path = lesson_services.learning_path_enrol(learner=learner, template=bank["onboarding"])
    return learner, path


def _events():
    return list(OutboxEvent.objects.order_by("id").values_list("topic", flat=True))


def test_a_correct_answer_scores_completes_the_lesson_and_advances_the_path(bank, enrolled):
    # given
    learner, path = enrolled
    lesson = bank["lessons"]["returns-1"]
    # when
    outcome = submit_answer(
        learner=learner, microlesson=lesson, answer=0, time_taken=42, channel="slack"
    )
    # then
    result = outcome.result
    assert outcome.is_correct and outcome.counted and outcome.lesson_completed
    assert (result.user_answer, result.is_correct, result.time_taken_seconds) == (0, True, 42)
    assert result.channel == "slack"
    assert LessonCompletion.objects.filter(learner=learner, microlesson=lesson).exists()
    path = LearningPath.objects.get(pk=path.pk)
    assert path.current_position == 1 and path.status == "in_progress"
    assert outcome.review is None
    assert _events() == ["lesson.completed", "assessment.answered"]


def test_a_wrong_answer_is_recorded_does_not_advance_and_schedules_a_review(bank, enrolled):
    learner, path = enrolled
    now = timezone.now()
    outcome = submit_answer(
        learner=learner, microlesson=bank["lessons"]["returns-1"], answer=2, now=now
    )
    assert not outcome.is_correct and not outcome.lesson_completed
    assert outcome.correct_answer == 0
    assert LearningPath.objects.get(pk=path.pk).current_position == 0
    assert outcome.review.box == 1 and outcome.review.due_at == now + DAY
    assert _events() == ["assessment.answered"]


def test_the_last_topic_completes_the_path_and_emits_path_completed(bank, enrolled):
    learner, path = enrolled
    submit_answer(learner=learner, microlesson=bank["lessons"]["returns-1"], answer=0)
    outcome = submit_answer(learner=learner, microlesson=bank["lessons"]["service-1"], answer=1)
    path = LearningPath.objects.get(pk=path.pk)
    assert outcome.completed_paths == (path,)
    assert path.status == "completed" and path.completion_percentage == 100
    assert _events().count("path.completed") == 1


def test_a_repeat_answer_is_recorded_but_counted_once(bank, enrolled):
    # given: a miss, then the right answer, then the right answer again
    learner, path = enrolled
    lesson = bank["lessons"]["returns-1"]
    first = submit_answer(learner=learner, microlesson=lesson, answer=1)
    second = submit_answer(learner=learner, microlesson=lesson, answer=0)
    third = submit_answer(learner=learner, microlesson=lesson, answer=0)
    # then
    assert [first.counted, second.counted, third.counted] == [True, False, False]
    assert AssessmentResult.objects.filter(learner=learner).count() == 3
    assert second.lesson_completed and not third.lesson_completed
    assert LearningPath.objects.get(pk=path.pk).current_position == 1
    score = learner_score(learner=learner)
    assert (score.answered, score.correct, score.score_percentage) == (1, 0, 0.0)
    assert _events().count("lesson.completed") == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"answer": 3}, "answer"),
        ({"answer": -1}, "answer"),
        ({"answer": "0"}, "answer"),
        ({"answer": True}, "answer"),
        ({"answer": 0, "time_taken": -5}, "time_taken"),
        ({"answer": 0, "channel": "fax"}, "channel"),
    ],
)
def test_invalid_answers_are_refused_and_nothing_is_written(bank, enrolled, kwargs, field):
    learner, _path = enrolled
    with pytest.raises(ValidationError) as excinfo:
        submit_answer(learner=learner, microlesson=bank["lessons"]["returns-1"], **kwargs)
    assert field in excinfo.value.message_dict
    assert AssessmentResult.objects.count() == 0
    assert OutboxEvent.objects.count() == 0


def test_leitner_boxes_bring_a_missed_question_back_after_1_3_and_7_days(bank, enrolled):
    learner, _path = enrolled
    lesson = bank["lessons"]["returns-1"]
    t0 = timezone.now()
    # a miss → box 1, due in a day
    review = submit_answer(learner=learner, microlesson=lesson, answer=1, now=t0).review
    assert (review.box, review.due_at) == (1, t0 + DAY)
    # answered right before it is due: no promotion
    early = submit_answer(learner=learner, microlesson=lesson, answer=0, now=t0 + DAY / 2).review
    assert (early.box, early.due_at) == (1, t0 + DAY)
    # right when due → box 2, due in 3 days
    t1 = t0 + DAY
    review = submit_answer(learner=learner, microlesson=lesson, answer=0, now=t1).review
    assert (review.box, review.due_at) == (2, t1 + 3 * DAY)
    # right when due → box 3, due in 7 days
    t2 = t1 + 3 * DAY
    review = submit_answer(learner=learner, microlesson=lesson, answer=0, now=t2).review
    assert (review.box, review.due_at) == (3, t2 + 7 * DAY)
    # a miss in box 3 → back to box 1
    t3 = t2 + 7 * DAY
    review = submit_answer(learner=learner, microlesson=lesson, answer=2, now=t3).review
    assert (review.box, review.due_at) == (1, t3 + DAY)
    # climbing again and answering right in box 3 retires it
    t = t3
    for _box in (1, 2, 3):
        t = ReviewItem.objects.get(pk=review.pk).due_at
        review = submit_answer(learner=learner, microlesson=lesson, answer=0, now=t).review
    assert review.retired_at == t
    assert AssessmentResult.objects.filter(is_review=True).count() == 6


@pytest.mark.django_db(transaction=True)
def test_concurrent_answers_to_one_lesson_count_once_and_complete_once(bank):
    # given
    learner = LearnerFactory()
    path = lesson_services.learning_path_enrol(learner=learner, template=bank["onboarding"])
    lesson = bank["lessons"]["returns-1"]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def answer(channel: str) -> None:
        try:
            barrier.wait()
            submit_answer(learner=learner, microlesson=lesson, answer=0, channel=channel)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    # when: four channels answer at the same moment
    threads = [threading.Thread(target=answer, args=(c,)) for c in ("slack", "sms", "email", "web")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then
    assert errors == []
    results = AssessmentResult.objects.filter(learner=learner)
    assert results.count() == 4
    assert results.filter(counted=True).count() == 1
    assert LessonCompletion.objects.filter(learner=learner).count() == 1
    assert LearningPath.objects.get(pk=path.pk).current_position == 1
    assert OutboxEvent.objects.filter(topic="lesson.completed").count() == 1
