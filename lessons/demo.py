"""
Demo data for the embedded mode (called by `manage.py seed_demo`): the starter lesson
bank, cohorts, a handful of learners with self-service accounts, and their paths at
different stages. Safe to run again: everything is looked up before it is created.
"""

from __future__ import annotations

import contextlib
import datetime
import secrets
from decimal import Decimal
from pathlib import Path

from django.utils import timezone

from learners import services as learner_services
from learners.models import Learner
from lessons import services
from lessons.errors import AlreadyEnrolledError
from lessons.models import LearningPath, Microlesson, PathTemplate

STARTER_BANK = Path(__file__).resolve().parent / "fixtures" / "starter_bank.json"

COHORTS = {
    ("region", "North"): None,
    ("region", "South"): None,
    ("store", "Leeds Briggate"): None,
    ("store", "Manchester Arndale"): None,
    ("store", "Brighton Churchill Square"): None,
    ("team", "Tills"): None,
    ("team", "Customer service desk"): None,
}

LEARNERS = [
    # employee_id, first, last, role, channel, store, region, team, lessons done
    ("DEMO001", "Priya", "Shah", "regional_director", "email", None, "North", None, 0),
    ("DEMO002", "Tom", "Okafor", "manager", "slack", "Leeds Briggate", "North", "Tills", 3),
    ("DEMO003", "Ana", "Ruiz", "sales_associate", "sms", "Leeds Briggate", "North", "Tills", 1),
    ("DEMO004", "Wei", "Chen", "sales_associate", "email", "Manchester Arndale", "North",
     "Customer service desk", 0),
    ("DEMO005", "Sam", "Taylor", "manager", "email", "Brighton Churchill Square", "South",
     "Customer service desk", 2),
    ("DEMO006", "Lena", "Novak", "sales_associate", "slack", "Brighton Churchill Square",
     "South", "Tills", 99),
]  # fmt: skip


def seed(stdout) -> None:
    if STARTER_BANK.exists():
        summary = services.lesson_bank_import(data=services.lesson_bank_load(STARTER_BANK))
        stdout.write(f"Lesson bank: {summary}.")
    else:
        stdout.write(f"No starter bank at {STARTER_BANK}; skipping lessons.")

    cohorts = {
        key: learner_services.cohort_get_or_create(kind=key[0], name=key[1]) for key in COHORTS
    }
    password = secrets.token_urlsafe(9)
    created = []
    by_employee: dict[str, Learner] = {}
    for row in LEARNERS:
        employee_id, first, last, role, channel, store, region, team, _done = row
        learner = Learner.objects.filter(employee_id=employee_id).first()
        if learner is None:
            learner = learner_services.learner_create(
                employee_id=employee_id,
                first_name=first,
                last_name=last,
                email=f"{first}.{last}@frontline.local".lower(),
                role=role,
                phone=f"+4477009{employee_id[-3:]}00",
                preferred_channel=channel,
                slack_user_id=f"U{employee_id}",
                time_zone="Europe/London",
                store=cohorts.get(("store", store)),
                region=cohorts.get(("region", region)),
                team=cohorts.get(("team", team)),
                password=password,
            )
            created.append(employee_id)
        by_employee[employee_id] = learner
    _link_managers(by_employee)
    if created:
        stdout.write(
            f"Demo learners {', '.join(created)} can sign in to the API "
            f"(username = employee id) with the password: {password}"
        )

    _demo_reward()
    for template in PathTemplate.objects.all():
        for employee_id, learner in by_employee.items():
            if template.slug != "onboarding" and employee_id not in {"DEMO002", "DEMO005"}:
                continue
            with contextlib.suppress(AlreadyEnrolledError):
                services.learning_path_enrol(learner=learner, template=template)
    _demo_progress({e: by_employee[e] for e in created})
    history = _demo_history(cohorts)
    if history:
        people = len(HISTORY_STORES) * len(HISTORY_TEAMS) * HISTORY_PER_STORE_AND_TEAM
        stdout.write(f"Learning history: {history} interactions of {people} associates.")
    stdout.write(
        f"Learners: {Learner.objects.count()}, learning paths: {LearningPath.objects.count()}."
    )


DEMO_REWARD = {
    "reward_amount": Decimal("10.00"),
    "reward_currency": "GBP",
    "reward_monthly_budget": Decimal("20.00"),
    "reward_cohort_kind": "store",
}


def _demo_reward() -> None:
    """A GBP 10 gift card for completing onboarding, GBP 20 a month per store (unless staff
    already configured a reward). DEMO006 completes onboarding, so the dashboard shows one."""
    template = PathTemplate.objects.filter(slug="onboarding", reward_amount__isnull=True).first()
    if template is None:
        return
    for name, value in DEMO_REWARD.items():
        setattr(template, name, value)
    template.full_clean()
    template.save(update_fields=[*DEMO_REWARD, "updated_at"])


# Associates with 60 days of learning behind them (as if carried over from the previous
# learning system), so that recommendations have history to learn from and
# `evaluate_recommendations` something to measure. Each team leans to its own topics; a few
# topics everyone takes.
HISTORY_TEAMS = {
    "Tills": ["payments-and-cards", "loss-prevention", "gift-card-fraud", "store-safety"],
    "Customer service desk": [
        "returns-policy",
        "customer-service",
        "omnichannel-orders",
        "privacy-and-data",
    ],
}
HISTORY_POPULAR = ["store-safety", "customer-service", "product-care"]
HISTORY_STORES = ["Leeds Briggate", "Manchester Arndale", "Brighton Churchill Square"]
HISTORY_REGIONS = {"Leeds Briggate": "North", "Manchester Arndale": "North",
                   "Brighton Churchill Square": "South"}  # fmt: skip
HISTORY_PER_STORE_AND_TEAM = 6
HISTORY_FIRST_NAMES = ["Alex", "Jo", "Sam", "Chris", "Robin", "Kim", "Lee", "Max", "Ash"]


def _demo_history(cohorts: dict) -> int:
    """Create the history associates (DEMO1nn) and their interactions, once."""
    from lessons.models import Topic
    from lessons.recommendations.behavior import BehaviorProcessor
    from lessons.recommendations.synthetic import events

    if Learner.objects.filter(employee_id="DEMO101").exists():
        return 0
    topic_ids = dict(Topic.objects.values_list("slug", "pk"))
    wanted = {slug for slugs in HISTORY_TEAMS.values() for slug in slugs} | set(HISTORY_POPULAR)
    if not wanted <= set(topic_ids):
        return 0  # not the starter bank: nothing sensible to make up
    onboarding = PathTemplate.objects.filter(slug="onboarding").first()
    learner_ids: list[int] = []
    cohort_of: dict[int, int] = {}
    number = 100
    for store in HISTORY_STORES:
        for group, team in enumerate(HISTORY_TEAMS):
            for _ in range(HISTORY_PER_STORE_AND_TEAM):
                number += 1
                first = HISTORY_FIRST_NAMES[number % len(HISTORY_FIRST_NAMES)]
                learner = learner_services.learner_create(
                    employee_id=f"DEMO{number}",
                    first_name=first,
                    last_name=f"Demo {number}",
                    email=f"{first}.demo{number}@frontline.local".lower(),
                    role="sales_associate",
                    preferred_channel="email",
                    time_zone="Europe/London",
                    store=cohorts[("store", store)],
                    region=cohorts[("region", HISTORY_REGIONS[store])],
                    team=cohorts[("team", team)],
                )
                if onboarding is not None:
                    services.learning_path_enrol(learner=learner, template=onboarding)
                learner_ids.append(learner.pk)
                cohort_of[learner.pk] = group
    groups = [[topic_ids[slug] for slug in slugs] for slugs in HISTORY_TEAMS.values()]
    return BehaviorProcessor().process_events(
        events(
            learner_ids=learner_ids,
            cohort_of=cohort_of,
            groups=groups,
            popular=[topic_ids[slug] for slug in HISTORY_POPULAR],
            topics_per_learner=5,
            seed=2026,
            start=timezone.now() - datetime.timedelta(days=61),
        )
    )


def _link_managers(by_employee: dict[str, Learner]) -> None:
    managers = {"DEMO002": "DEMO001", "DEMO003": "DEMO002", "DEMO004": "DEMO001",
                "DEMO005": "DEMO001", "DEMO006": "DEMO005"}  # fmt: skip
    for employee_id, manager_id in managers.items():
        learner = by_employee[employee_id]
        if learner.manager_id is None:
            learner_services.learner_update(
                learner=learner, data={"manager": by_employee[manager_id]}
            )


def _demo_progress(by_employee: dict[str, Learner]) -> None:
    """Walk newly created learners part-way (or all the way) through onboarding."""
    done_by_employee = {row[0]: row[-1] for row in LEARNERS}
    for employee_id, learner in by_employee.items():
        for _ in range(done_by_employee[employee_id]):
            path = (
                LearningPath.objects.filter(learner=learner, template__slug="onboarding")
                .exclude(status=LearningPath.Status.COMPLETED)
                .first()
            )
            slug = path.current_topic_slug if path else None
            if slug is None:
                break
            lesson = Microlesson.objects.filter(
                topic__slug=slug, source=Microlesson.Source.AUTHORED
            ).first()
            if lesson is None:
                break
            services.lesson_complete(learner=learner, microlesson=lesson, channel="web")
