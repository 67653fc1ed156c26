"""Writes for assessments: scoring an answer and scheduling spaced review."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from assessments.models import AnswerChannel, AssessmentResult, ReviewItem
from core.outbox import publish_event
from learners.models import Learner
from lessons import services as lesson_services
from lessons.models import LearningPath, Microlesson

MAX_BOX = 3


@dataclass(frozen=True)
class AnswerOutcome:
    """What happened when a learner answered: for the API, Slack, SMS and email replies."""

    result: AssessmentResult
    is_correct: bool
    counted: bool
    correct_answer: int
    explanation: str
    lesson_completed: bool
    advanced_paths: tuple[LearningPath, ...]
    completed_paths: tuple[LearningPath, ...]
    review: ReviewItem | None


def _validate(*, microlesson: Microlesson, answer, time_taken, channel) -> None:
    errors: dict[str, str] = {}
    if isinstance(answer, bool) or not isinstance(answer, int):
        errors["answer"] = "Must be the index of an option (an integer)."
    elif not 0 <= answer < len(microlesson.quiz_options):
        errors["answer"] = f"Must be an option index from 0 to {len(microlesson.quiz_options) - 1}."
    if time_taken is not None and (
        isinstance(time_taken, bool) or not isinstance(time_taken, int) or time_taken < 0
    ):
        errors["time_taken"] = "Must be a whole number of seconds, zero or more."
    if channel not in AnswerChannel.values:
        errors["channel"] = f"Must be one of {', '.join(AnswerChannel.values)}."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def submit_answer(
    *,
    learner: Learner,
    microlesson: Microlesson,
    answer: int,
    time_taken: int | None = None,
    channel: str = AnswerChannel.WEB,
    now: datetime.datetime | None = None,
) -> AnswerOutcome:
    """Score `answer` to the lesson's quiz and move the learner on.

    Records the answer (the first one per lesson is the one that counts; repeats are kept
    with counted=False), completes the lesson and advances/completes the learner's paths
    when correct (once, however often it is answered), and reschedules spaced review.
    Emits assessment.answered, and through lessons lesson.completed and path.completed.
    Raises ValidationError with field errors for a bad answer, time or channel.
    """
    _validate(microlesson=microlesson, answer=answer, time_taken=time_taken, channel=channel)
    now = now or timezone.now()
    is_correct = microlesson.is_correct(answer)
    review_before = (
        ReviewItem.objects.select_for_update()
        .filter(learner=learner, microlesson=microlesson, retired_at__isnull=True)
        .first()
    )
    fields = {
        "learner": learner,
        "microlesson": microlesson,
        "user_answer": answer,
        "is_correct": is_correct,
        "time_taken_seconds": time_taken,
        "channel": channel,
        "attempted_at": now,
        "is_review": review_before is not None and review_before.due_at <= now,
    }
    try:
        # The partial unique index decides which answer is first, even under a race.
        with transaction.atomic():
            result = AssessmentResult.objects.create(counted=True, **fields)
    except IntegrityError:
        result = AssessmentResult.objects.create(counted=False, **fields)

    review = _review_reschedule(
        learner=learner, microlesson=microlesson, is_correct=is_correct, now=now
    )
    completion = None
    if is_correct:
        completion = lesson_services.lesson_complete(
            learner=learner, microlesson=microlesson, channel=channel
        )
    publish_event(
        "assessment.answered",
        {
            "result_id": result.pk,
            "learner_id": learner.pk,
            "microlesson_id": microlesson.pk,
            "topic": microlesson.topic.slug,
            "answer": answer,
            "is_correct": is_correct,
            "counted": result.counted,
            "is_review": result.is_review,
            "time_taken_seconds": time_taken,
            "channel": channel,
            "attempted_at": now.isoformat(),
        },
    )
    return AnswerOutcome(
        result=result,
        is_correct=is_correct,
        counted=result.counted,
        correct_answer=microlesson.correct_answer,
        explanation=microlesson.explanation,
        lesson_completed=bool(completion and completion.newly_completed),
        advanced_paths=tuple(completion.advanced_paths) if completion else (),
        completed_paths=tuple(completion.completed_paths) if completion else (),
        review=review,
    )


def review_interval(box: int) -> datetime.timedelta:
    days = settings.REVIEW_INTERVAL_DAYS
    return datetime.timedelta(days=days[min(box, len(days)) - 1])


def _review_reschedule(
    *, learner: Learner, microlesson: Microlesson, is_correct: bool, now: datetime.datetime
) -> ReviewItem | None:
    """Leitner step: a miss → box 1 (due in 1 day); a correct review → next box (3, then 7
    days); correct in the last box → retired. A first-time correct answer schedules nothing."""
    item = (
        ReviewItem.objects.select_for_update()
        .filter(learner=learner, microlesson=microlesson)
        .first()
    )
    if item is None:
        if is_correct:
            return None
        try:
            with transaction.atomic():
                return ReviewItem.objects.create(
                    learner=learner,
                    microlesson=microlesson,
                    box=1,
                    due_at=now + review_interval(1),
                    last_answered_at=now,
                )
        except IntegrityError:  # a concurrent miss created it first
            item = ReviewItem.objects.select_for_update().get(
                learner=learner, microlesson=microlesson
            )
    if item.retired_at is not None and is_correct:
        return item
    if not is_correct:
        item.box, item.retired_at = 1, None
        item.due_at = now + review_interval(1)
    elif item.due_at > now:
        # Answered again before it was due: no promotion for cramming.
        pass
    elif item.box >= MAX_BOX:
        item.retired_at = now
    else:
        item.box += 1
        item.due_at = now + review_interval(item.box)
    item.last_answered_at = now
    item.save()
    return item
