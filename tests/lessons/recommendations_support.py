"""A small catalogue with a known shape for the recommendation tests."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from learners.models import Learner
from lessons.models import Topic
from lessons.recommendations import BehaviorProcessor
from lessons.recommendations import services as recommendation_services
from tests.learners.factories import LearnerFactory
from tests.lessons.factories import MicrolessonFactory, TopicFactory

TOPICS = {
    # slug: (title, tags, difficulty, lesson text)
    "returns-basics": (
        "Returns basics",
        ["returns", "refunds"],
        "beginner",
        "Check the receipt before a refund or an exchange at the returns desk.",
    ),
    "refund-fraud": (
        "Refund fraud",
        ["returns", "fraud"],
        "beginner",
        "Spot refund fraud: a receipt that does not match, a scam refund to another card.",
    ),
    "store-safety": (
        "Store safety",
        ["safety"],
        "beginner",
        "Clear a spill, use a ladder safely and report every hazard on the shop floor.",
    ),
    "fire-drill": (
        "Fire drill",
        ["safety", "emergencies"],
        "beginner",
        "Evacuation routes, the fire alarm and the assembly point; a hazard left blocks exits.",
    ),
    "advanced-audits": (
        "Advanced audits",
        ["returns", "audits"],
        "advanced",
        "Audit the refund ledger: reconcile every refund and exchange against receipts.",
    ),
}


@dataclass
class Catalogue:
    topics: dict[str, Topic]
    lessons: dict[str, object]
    others: list[Learner]


def catalogue_create() -> dict[str, Topic]:
    topics, lessons = {}, {}
    for slug, (title, tags, difficulty, text) in TOPICS.items():
        topic = TopicFactory(slug=slug, title=title, tags=tags, description="")
        topics[slug] = topic
        lessons[slug] = MicrolessonFactory(
            key=f"{slug}-1", topic=topic, difficulty=difficulty, content=text, key_points=[]
        )
    return topics, lessons


def events_for(learner: Learner, *slugs: str, type: str = "completed", at=None) -> list[dict]:
    at = at or timezone.now() - datetime.timedelta(hours=1)
    return [
        {"learner_id": learner.pk, "topic": slug, "type": type, "created_at": at} for slug in slugs
    ]


def record(learner: Learner, *slugs: str, type: str = "completed", at=None) -> int:
    return BehaviorProcessor().process_events(events_for(learner, *slugs, type=type, at=at))


def history_create() -> list[Learner]:
    """4 associates finished returns-basics, 3 of them refund-fraud too, 1 store-safety;
    2 more did store-safety and fire-drill; 1 manager did advanced-audits and fire-drill."""
    others = [LearnerFactory() for _ in range(6)]
    record(others[0], "returns-basics", "refund-fraud")
    record(others[1], "returns-basics", "refund-fraud")
    record(others[2], "returns-basics", "refund-fraud")
    record(others[3], "returns-basics", "store-safety")
    record(others[4], "store-safety", "fire-drill")
    record(others[5], "store-safety", "fire-drill")
    manager = LearnerFactory(role="manager", knowledge_level="advanced")
    record(manager, "advanced-audits", "fire-drill")
    return [*others, manager]


def rebuild() -> None:
    """The two jobs: content similarity, then co-occurrence (which publishes the snapshot)."""
    recommendation_services.similarity_recalculate()
    BehaviorProcessor().build_cooccurrence_matrix(time_window_hours=720)
