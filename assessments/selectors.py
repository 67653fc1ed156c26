"""
Reads for assessments, including `next_lesson_for`, the one question delivery asks:
"what should this learner get today?"
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from assessments.models import AssessmentResult, ReviewItem
from learners.models import Learner
from lessons import selectors as lesson_selectors
from lessons.errors import NoLessonAvailableError
from lessons.generation import LessonGeneratorClient, lesson_obtain_for_topic
from lessons.models import LearningPath, Microlesson, Topic


@dataclass(frozen=True)
class NextLesson:
    """The lesson to send today, and why.

    kind: "review" (a missed question that is due), "path" (the current topic of the
    active path) or "none" (nothing due and no open path; microlesson is None).
    source: "authored" or "generated"; fallback_reason says why an authored lesson was
    used when a generated one was wanted (generator_not_configured, circuit_open,
    generator_failed).
    """

    kind: str
    microlesson: Microlesson | None
    learning_path: LearningPath | None = None
    topic: Topic | None = None
    review: ReviewItem | None = None
    source: str | None = None
    fallback_reason: str | None = None
    reason: str = ""


def review_due_list(*, learner: Learner, now: datetime.datetime | None = None) -> QuerySet:
    now = now or timezone.now()
    return (
        ReviewItem.objects.filter(learner=learner, retired_at__isnull=True, due_at__lte=now)
        .select_related("microlesson__topic")
        .order_by("due_at", "id")
    )


def next_lesson_for(
    learner: Learner,
    *,
    now: datetime.datetime | None = None,
    use_generator: bool = True,
    client: LessonGeneratorClient | None = None,
) -> NextLesson:
    """What `learner` should get today: the most overdue review first, else a lesson on
    the current topic of their active path (generated when the generator is configured and
    healthy, else authored — see lessons.generation), else kind="none".

    A generated lesson is saved (it belongs to the learner), so this is the one selector
    that may write; with use_generator=False it only reads.
    """
    review = review_due_list(learner=learner, now=now).first()
    if review is not None:
        return NextLesson(
            kind="review",
            microlesson=review.microlesson,
            topic=review.microlesson.topic,
            review=review,
            source=review.microlesson.source,
            reason=f"review due (box {review.box})",
        )
    path = lesson_selectors.learning_path_active(learner=learner)
    if path is None:
        return NextLesson(kind="none", microlesson=None, reason="no active learning path")
    slug = path.current_topic_slug
    topic = Topic.objects.filter(slug=slug).first() if slug else None
    if topic is None:
        return NextLesson(
            kind="none",
            microlesson=None,
            learning_path=path,
            reason=f"path topic {slug!r} has no lessons" if slug else "path has no topics left",
        )
    answered = AssessmentResult.objects.filter(learner=learner).values_list(
        "microlesson_id", flat=True
    )
    try:
        choice = lesson_obtain_for_topic(
            learner=learner,
            topic=topic,
            difficulty=path.difficulty,
            avoid_ids=answered,
            client=client,
            use_generator=use_generator,
        )
    except NoLessonAvailableError:
        return NextLesson(
            kind="none",
            microlesson=None,
            learning_path=path,
            topic=topic,
            reason=f"no lesson available on {topic.slug}",
        )
    return NextLesson(
        kind="path",
        microlesson=choice.microlesson,
        learning_path=path,
        topic=topic,
        source=choice.source,
        fallback_reason=choice.fallback_reason,
        reason=f"{path.name}: topic {path.current_position + 1} of {path.total_topics}",
    )


def assessment_result_list(*, learner: Learner | None = None) -> QuerySet[AssessmentResult]:
    queryset = AssessmentResult.objects.select_related("microlesson__topic", "learner")
    return queryset.filter(learner=learner) if learner is not None else queryset


@dataclass(frozen=True)
class LearnerScore:
    answered: int
    correct: int
    score_percentage: float


def learner_score(*, learner: Learner) -> LearnerScore:
    """Score over counted (first) answers only; repeats never inflate it."""
    agg = AssessmentResult.objects.filter(learner=learner, counted=True).aggregate(
        answered=Count("id"), correct=Count("id", filter=Q(is_correct=True))
    )
    answered, correct = agg["answered"], agg["correct"]
    return LearnerScore(
        answered=answered,
        correct=correct,
        score_percentage=round(correct * 100 / answered, 2) if answered else 0.0,
    )
