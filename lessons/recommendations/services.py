"""Writes around recommendations: saved topics, a recommended path, similarity rebuilds."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction

from core.outbox import publish_event
from learners.models import Learner
from lessons import selectors
from lessons.models import (
    Difficulty,
    InteractionType,
    LearnerInteraction,
    LearningPath,
    Microlesson,
    SavedTopic,
    Topic,
)
from lessons.recommendations.behavior import BehaviorProcessor
from lessons.recommendations.engine import RecommendationEngine, invalidate_learners
from lessons.recommendations.similarity import (
    Cooccurrence,
    catalogue,
    content_similarity_write,
    current_generation,
    snapshot_build,
    snapshot_get,
    snapshot_publish,
)
from lessons.recommendations.store import store_for

logger = logging.getLogger(__name__)


def similarity_recalculate(*, topic: Topic | None = None) -> int:
    """Content similarity of every topic (or of one), then the new snapshot goes live.

    The co-occurrence side of the snapshot is carried over from the current one when the
    catalogue is unchanged (re-reading the window's completions is the hourly job's work)."""
    store = store_for(None)
    hours = settings.RECOMMENDATIONS_WINDOW_HOURS
    previous = snapshot_get(store=store, time_window_hours=hours)
    rows = content_similarity_write(topic=topic)
    ids = [t.id for t in catalogue()]
    carried = None
    if [t["id"] for t in previous.topics] == ids:
        carried = Cooccurrence(
            topic_ids=ids,
            counts=previous.support,
            role_counts={role: list(v) for role, v in previous.role_counts.items()},
            role_learners=dict(previous.role_learners),
            learners=previous.learners,
        )
    snapshot = snapshot_build(
        generation=current_generation(), time_window_hours=hours, cooccurrence=carried
    )
    snapshot_publish(store=store, snapshot=snapshot)
    return rows


def cooccurrence_rebuild(*, time_window_hours: int) -> dict:
    return BehaviorProcessor().build_cooccurrence_matrix(time_window_hours=time_window_hours)


@transaction.atomic
def saved_topic_add(*, learner: Learner, topic: Topic) -> tuple[SavedTopic, bool]:
    """Bookmark `topic`; a second save changes nothing. Records a "saved" interaction."""
    try:
        with transaction.atomic():
            saved = SavedTopic.objects.create(learner=learner, topic=topic)
    except IntegrityError:
        return SavedTopic.objects.get(learner=learner, topic=topic), False
    RecommendationEngine(learner_id=learner).record_interaction(
        topic=topic, interaction_type=InteractionType.SAVED
    )
    return saved, True


@transaction.atomic
def saved_topic_remove(*, learner: Learner, topic: Topic) -> bool:
    """Un-bookmark `topic`: the bookmark and the "saved" evidence go. False if not saved."""
    deleted, _ = SavedTopic.objects.filter(learner=learner, topic=topic).delete()
    if not deleted:
        return False
    LearnerInteraction.objects.filter(
        learner=learner, topic=topic, type=InteractionType.SAVED
    ).delete()
    invalidate_learners(learner_ids=[learner.pk])
    return True


@transaction.atomic
def recommended_lesson_open(*, learner: Learner, topic: Topic) -> Microlesson | None:
    """The learner opens a recommended topic: their next lesson of it, recorded as opened
    (a delivered interaction) with recommendations.clicked published."""
    lesson = selectors.authored_lesson_for(
        learner=learner, topic=topic, difficulty=learner.knowledge_level or Difficulty.BEGINNER
    )
    RecommendationEngine(learner_id=learner).record_interaction(
        topic=topic,
        interaction_type=InteractionType.DELIVERED,
        lesson=lesson,
        metadata={"via": "recommendation"},
    )
    publish_event(
        "recommendations.clicked",
        {
            "learner_id": learner.pk,
            "topic": topic.slug,
            "microlesson_id": lesson.pk if lesson else None,
        },
    )
    return lesson


_OPEN = [
    LearningPath.Status.NOT_STARTED,
    LearningPath.Status.IN_PROGRESS,
    LearningPath.Status.PAUSED,
]


@transaction.atomic
def learning_path_enrol_recommended(*, learner: Learner) -> LearningPath | None:
    """A learner with no open path gets a new one from their top recommended topics, so
    nobody runs dry. None when they still have an open path or nothing is left to take."""
    learner = Learner.objects.select_for_update().get(pk=learner.pk)
    if LearningPath.objects.filter(learner=learner, status__in=_OPEN).exists():
        return None
    results = RecommendationEngine(learner_id=learner).get_recommendations(
        limit=settings.RECOMMENDATIONS_PATH_TOPICS, strategy="hybrid"
    )
    if not results:
        return None
    level = learner.knowledge_level if learner.knowledge_level in Difficulty.values else "beginner"
    path = LearningPath.objects.create(
        learner=learner,
        name="Recommended for you",
        difficulty=level,
        topics=[r.topic for r in results],
    )
    publish_event(
        "path.enrolled",
        {
            "learning_path_id": path.pk,
            "learner_id": learner.pk,
            "topics": path.topics,
            "source": "recommendations",
        },
    )
    return path
