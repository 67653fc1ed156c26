"""
A synthetic population with a known structure, for the evaluation test, the
`evaluate_recommendations --synthetic` command and the benchmark: learners in cohorts,
each cohort favouring its own group of topics (and sharing a few popular ones), so a
recommender that learns "learners like you went on to complete X" has something to find
and a most-popular list does not.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator
from dataclasses import dataclass

from django.utils import timezone

from learners.models import Learner
from lessons.models import Difficulty, InteractionType, Microlesson, Topic

_VOCABULARY = [
    ["refund", "receipt", "exchange", "return", "voucher"],
    ["till", "cash", "float", "card", "payment"],
    ["ladder", "spill", "hazard", "evacuation", "firstaid"],
    ["theft", "tag", "alarm", "shoplifting", "camera"],
    ["pickup", "online", "order", "courier", "parcel"],
    ["privacy", "consent", "data", "identity", "breach"],
    ["display", "planogram", "stock", "shelf", "merchandise"],
    ["greeting", "complaint", "apology", "listening", "empathy"],
]


@dataclass(frozen=True)
class Population:
    topics: list[Topic]
    learner_ids: list[int]
    cohort_of: dict[int, int]
    groups: list[list[int]]  # topic ids per cohort group


def catalogue_create(*, topics: int, groups: int, prefix: str = "syn") -> list[list[Topic]]:
    """`topics` topics in `groups` groups, one authored beginner lesson each."""
    made: list[list[Topic]] = [[] for _ in range(groups)]
    for n in range(topics):
        group = n % groups
        words = _VOCABULARY[group % len(_VOCABULARY)]
        topic = Topic.objects.create(
            slug=f"{prefix}-{group}-{n}",
            title=f"{words[n % len(words)].title()} skills {n}",
            description=f"About {' '.join(words)}.",
            tags=[f"group-{group}", words[n % len(words)]],
        )
        Microlesson.objects.create(
            key=f"{prefix}-lesson-{n}",
            topic=topic,
            title=f"{words[0].title()} {n}",
            difficulty=Difficulty.BEGINNER,
            content=" ".join(words * 3) + f" lesson {n}.",
            key_points=[words[1]],
            quiz_question="Which is right?",
            quiz_options=["This", "That"],
            correct_answer=0,
        )
        made[group].append(topic)
    return made


def events(
    *,
    learner_ids: list[int],
    cohort_of: dict[int, int],
    groups: list[list[int]],
    popular: list[int],
    topics_per_learner: int,
    seed: int,
    start: datetime.datetime,
    days: int = 60,
) -> Iterator[dict]:
    """Interactions as BehaviorProcessor events: each learner takes topics in time order,
    mostly from their cohort's group, sometimes a popular one; delivered, started, then
    (mostly) completed."""
    rng = random.Random(seed)
    span = days * 86400
    for learner_id in learner_ids:
        favoured = groups[cohort_of[learner_id]]
        chosen: list[int] = []
        while len(chosen) < topics_per_learner:
            pool = favoured if rng.random() < 0.8 else popular
            topic = rng.choice(pool)
            if topic not in chosen:
                chosen.append(topic)
            if len(chosen) >= len(set(favoured) | set(popular)):
                break
        times = sorted(rng.randrange(span) for _ in chosen)
        for topic_id, offset in zip(chosen, times, strict=True):
            at = start + datetime.timedelta(seconds=offset)
            yield {
                "learner_id": learner_id,
                "topic_id": topic_id,
                "type": "delivered",
                "created_at": at,
            }
            yield {
                "learner_id": learner_id,
                "topic_id": topic_id,
                "type": "started",
                "created_at": at + datetime.timedelta(minutes=1),
            }
            if rng.random() < 0.85:
                yield {"learner_id": learner_id, "topic_id": topic_id,
                       "type": InteractionType.COMPLETED,
                       "created_at": at + datetime.timedelta(minutes=3)}  # fmt: skip


def population_create(
    *,
    learners: int = 300,
    topics: int = 20,
    cohorts: int = 4,
    topics_per_learner: int = 6,
    seed: int = 7,
) -> Population:
    """Create the catalogue, the learners and their interactions (for tests and the command)."""
    from lessons.recommendations.behavior import BehaviorProcessor

    grouped = catalogue_create(topics=topics, groups=cohorts)
    rng = random.Random(seed)
    created = Learner.objects.bulk_create(
        [
            Learner(
                employee_id=f"SYN{seed}-{n:06d}",
                first_name="Synthetic",
                last_name=f"Learner {n}",
                email=f"syn{seed}-{n}@frontline.test",
                role="sales_associate",
                knowledge_level="beginner",
            )
            for n in range(learners)
        ],
        batch_size=1000,
    )
    learner_ids = [learner.pk for learner in created]
    cohort_of = {pk: rng.randrange(cohorts) for pk in learner_ids}
    groups = [[t.pk for t in group] for group in grouped]
    # A few topics every cohort takes now and then: the most-popular list's favourites.
    popular = [group[0] for group in groups]
    start = timezone.now() - datetime.timedelta(days=61)
    BehaviorProcessor().process_events(
        events(
            learner_ids=learner_ids,
            cohort_of=cohort_of,
            groups=groups,
            popular=popular,
            topics_per_learner=topics_per_learner,
            seed=seed,
            start=start,
        )
    )
    return Population(
        topics=[t for group in grouped for t in group],
        learner_ids=learner_ids,
        cohort_of=cohort_of,
        groups=groups,
    )
