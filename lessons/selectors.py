"""Reads for lessons."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from learners.models import Learner
from lessons.models import LearningPath, LessonCompletion, Microlesson, Topic


def learning_path_list(*, learner: Learner) -> QuerySet[LearningPath]:
    return LearningPath.objects.filter(learner=learner).select_related("template")


def learning_path_active(*, learner: Learner) -> LearningPath | None:
    """The path lessons come from: the oldest in progress, else the oldest not started.

    Paused paths are skipped (the learner or staff paused them on purpose).
    """
    order = Case(
        When(status=LearningPath.Status.IN_PROGRESS, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return (
        LearningPath.objects.filter(
            learner=learner,
            status__in=[LearningPath.Status.IN_PROGRESS, LearningPath.Status.NOT_STARTED],
        )
        .annotate(_order=order)
        .order_by("_order", "created_at", "id")
        .first()
    )


def microlesson_list_for_learner(*, learner: Learner) -> QuerySet[Microlesson]:
    """Lessons a learner may see: authored ones on their paths' topics, and their own
    generated ones. Someone else's generated lesson is not in here (the API answers 404)."""
    slugs: set[str] = set()
    for topics in LearningPath.objects.filter(learner=learner).values_list("topics", flat=True):
        slugs.update(topics)
    return Microlesson.objects.filter(
        Q(source=Microlesson.Source.AUTHORED, topic__slug__in=slugs) | Q(generated_for=learner)
    ).select_related("topic")


def completed_lesson_ids(*, learner: Learner) -> set[int]:
    return set(
        LessonCompletion.objects.filter(learner=learner).values_list("microlesson_id", flat=True)
    )


def authored_lesson_for(
    *,
    learner: Learner,
    topic: Topic,
    difficulty: str,
    avoid_ids: Iterable[int] = (),
) -> Microlesson | None:
    """An authored lesson of `topic` for the learner: not yet completed, preferring the
    path's difficulty and lessons not in `avoid_ids` (e.g. already asked); None if the
    topic has no authored lessons at all."""
    avoid = set(avoid_ids)
    candidates = Microlesson.objects.filter(
        topic=topic, source=Microlesson.Source.AUTHORED
    ).exclude(pk__in=completed_lesson_ids(learner=learner))
    ranked = candidates.annotate(
        _difficulty_rank=Case(
            When(difficulty=difficulty, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        ),
        _avoid_rank=(
            Case(When(pk__in=avoid, then=Value(1)), default=Value(0), output_field=IntegerField())
            if avoid
            else Value(0)
        ),
    ).order_by("_avoid_rank", "_difficulty_rank", "id")
    lesson = ranked.first()
    if lesson is None:
        # Everything on the topic was completed: repeat the first at the right level.
        lesson = (
            Microlesson.objects.filter(topic=topic, source=Microlesson.Source.AUTHORED)
            .annotate(
                _difficulty_rank=Case(
                    When(difficulty=difficulty, then=Value(0)),
                    default=Value(1),
                    output_field=IntegerField(),
                )
            )
            .order_by("_difficulty_rank", "id")
            .first()
        )
    return lesson
