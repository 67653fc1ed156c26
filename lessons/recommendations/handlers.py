"""
Reactions to other apps' domain events (registered in LessonsConfig.ready()); the outbox
runs each once per event.

- lesson.delivered   → a "delivered" interaction (the lesson reached the learner)
- assessment.answered → "started" on the first (counted) answer to a lesson
- lesson.completed   → "completed"
- path.completed     → a new path from the learner's recommendations when none is open
"""

from __future__ import annotations

import logging

from core.outbox import subscribe
from learners.models import Learner
from lessons.models import InteractionType, Microlesson
from lessons.recommendations.engine import RecommendationEngine
from lessons.recommendations.services import learning_path_enrol_recommended

logger = logging.getLogger(__name__)


def _record(event, interaction_type: str) -> None:
    payload = event.payload
    lesson = (
        Microlesson.objects.select_related("topic").filter(pk=payload.get("microlesson_id")).first()
    )
    learner_id = payload.get("learner_id")
    if lesson is None or not learner_id:
        logger.warning("event without a known lesson or learner", extra={"topic": event.topic})
        return
    if not Learner.objects.filter(pk=learner_id).exists():
        return
    RecommendationEngine(learner_id=learner_id).record_interaction(
        topic=lesson.topic,
        interaction_type=interaction_type,
        lesson=lesson,
        metadata={"event_id": str(event.event_id), "channel": payload.get("channel") or ""},
    )


@subscribe("lesson.delivered")
def on_lesson_delivered(event) -> None:
    _record(event, InteractionType.DELIVERED)


@subscribe("assessment.answered")
def on_assessment_answered(event) -> None:
    if event.payload.get("counted"):
        _record(event, InteractionType.STARTED)


@subscribe("lesson.completed")
def on_lesson_completed(event) -> None:
    _record(event, InteractionType.COMPLETED)


@subscribe("path.completed")
def on_path_completed(event) -> None:
    learner = Learner.objects.filter(pk=event.payload.get("learner_id")).first()
    if learner is not None:
        learning_path_enrol_recommended(learner=learner)
