"""Shared helpers of the completion reward tests."""

from __future__ import annotations

import re
from decimal import Decimal

from gift_cards import codes
from gift_cards.models import GiftCard
from learners.models import Cohort
from lessons.models import LearningPath, PathTemplate
from tests.learners.factories import CohortFactory, LearnerFactory
from tests.lessons.factories import LearningPathFactory, MicrolessonFactory, TopicFactory

CODE = re.compile(r"GIFT-[2-9A-HJ-NP-Z]{4}(?:-[2-9A-HJ-NP-Z]{4}){3}")


def rewarded_template(
    *,
    slug: str = "onboarding",
    amount: str = "10.00",
    budget: str = "30.00",
    currency: str = "USD",
) -> PathTemplate:
    """A one-topic template (with a lesson) carrying a reward."""
    topic = TopicFactory(slug=f"{slug}-topic", title=f"{slug} topic")
    MicrolessonFactory(key=f"{slug}-lesson", topic=topic)
    template, _ = PathTemplate.objects.update_or_create(
        slug=slug,
        defaults={
            "title": f"{slug.title()} path",
            "topics": [topic.slug],
            "reward_amount": Decimal(amount),
            "reward_currency": currency,
            "reward_monthly_budget": Decimal(budget),
        },
    )
    return template


def store(name: str = "Store 001") -> Cohort:
    return CohortFactory(kind=Cohort.Kind.STORE, name=name)


def completed_path(template: PathTemplate, *, learner=None, cohort=None) -> LearningPath:
    """A path already completed, made with the model's transitions (no event published)."""
    learner = learner or LearnerFactory(store=cohort)
    path = LearningPathFactory(
        learner=learner, template=template, name=template.title, topics=list(template.topics)
    )
    path.start()
    path.current_position = len(path.topics)
    path.complete()
    path.save()
    return path


def code_matches_card(code: str, card: GiftCard) -> bool:
    parsed = codes.parse(code)
    return parsed is not None and codes.hashes_match(card.code_hash, codes.code_hash(parsed))
