"""Recommendations under concurrency: real threads, each with its own PostgreSQL connection."""

import pytest

from core.models import OutboxEvent
from lessons.models import LearnerInteraction, LearningPath, RecommendationCache, SavedTopic
from lessons.recommendations import BehaviorProcessor, RecommendationEngine
from lessons.recommendations import services as recommendation_services
from tests.concurrency import run_in_threads
from tests.learners.factories import LearnerFactory
from tests.lessons.recommendations_support import (
    catalogue_create,
    history_create,
    rebuild,
    record,
)

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


@pytest.fixture
def catalogue(db):
    topics, lessons = catalogue_create()
    history_create()
    rebuild()
    return {"topics": topics, "lessons": lessons}


def generated(learner):
    return OutboxEvent.objects.filter(
        topic="recommendations.generated", payload__learner_id=learner.pk
    ).count()


def test_concurrent_interactions_of_one_learner_are_all_recorded(catalogue):
    learner = LearnerFactory()
    kinds = ["delivered", "started", "completed", "saved"] * 2
    jobs = [
        lambda kind=kind: RecommendationEngine(learner_id=learner.pk).record_interaction(
            topic="fire-drill", interaction_type=kind
        )
        for kind in kinds
    ]
    results, errors = run_in_threads(*jobs)
    assert errors == [None] * len(kinds)
    assert results == [True] * len(kinds)
    rows = LearnerInteraction.objects.filter(learner=learner)
    assert sorted(rows.values_list("type", flat=True)) == sorted(kinds)


def test_concurrent_batches_lose_nothing(catalogue):
    learners = [LearnerFactory() for _ in range(4)]
    batch = [
        {"learner_id": learner.pk, "topic": slug, "type": "delivered"}
        for learner in learners
        for slug in ("fire-drill", "store-safety", "returns-basics")
    ]
    jobs = [lambda: BehaviorProcessor().process_events(batch) for _ in range(THREADS)]
    results, errors = run_in_threads(*jobs)
    assert errors == [None] * THREADS
    assert results == [len(batch)] * THREADS
    assert LearnerInteraction.objects.filter(learner__in=learners).count() == THREADS * len(batch)


def test_n_concurrent_cold_requests_compute_once(catalogue):
    # given: a learner whose list nobody has computed
    learner = LearnerFactory()
    record(learner, "returns-basics")
    engines = [RecommendationEngine(learner_id=learner.pk) for _ in range(THREADS)]
    # when: they all ask at the same instant
    results, errors = run_in_threads(*[lambda e=e: e.get_recommendations() for e in engines])
    # then: one computation, and everybody got its result
    assert errors == [None] * THREADS
    assert sum(e.computed for e in engines) == 1
    assert generated(learner) == 1
    assert all(r == results[0] for r in results)
    assert results[0][0].topic == "refund-fraud"
    assert RecommendationCache.objects.filter(learner=learner).count() == 1


def test_concurrent_requests_for_different_learners_each_get_their_own(catalogue):
    learners = [LearnerFactory() for _ in range(THREADS)]
    done = ["returns-basics", "store-safety", "fire-drill", "refund-fraud"]
    for n, learner in enumerate(learners):
        record(learner, done[n % len(done)])
    jobs = [
        lambda learner=learner: RecommendationEngine(learner_id=learner.pk).get_recommendations()
        for learner in learners
    ]
    results, errors = run_in_threads(*jobs)
    assert errors == [None] * THREADS
    for n, learner in enumerate(learners):
        topics = [r.topic for r in results[n]]
        assert done[n % len(done)] not in topics
        assert len(topics) == 4
        assert generated(learner) == 1


def test_requests_racing_a_completion_never_keep_a_stale_list(catalogue):
    # given: a learner whose top topic is refund-fraud
    learner = LearnerFactory()
    record(learner, "returns-basics")

    def read():
        return RecommendationEngine(learner_id=learner.pk).get_recommendations()

    def complete():
        return RecommendationEngine(learner_id=learner.pk).record_interaction(
            topic="refund-fraud", interaction_type="completed"
        )

    # when: readers and the completion run together
    _results, errors = run_in_threads(*[read] * (THREADS - 1), complete)
    # then: whatever the readers saw, the list served afterwards knows about the completion
    assert errors == [None] * THREADS
    assert "refund-fraud" not in [r.topic for r in read()]


def test_saving_a_topic_twice_at_once_keeps_one_bookmark(catalogue):
    learner = LearnerFactory()
    topic = catalogue["topics"]["fire-drill"]
    jobs = [
        lambda: recommendation_services.saved_topic_add(learner=learner, topic=topic)[1]
        for _ in range(THREADS)
    ]
    results, errors = run_in_threads(*jobs)
    assert errors == [None] * THREADS
    assert results.count(True) == 1
    assert SavedTopic.objects.filter(learner=learner).count() == 1
    assert LearnerInteraction.objects.filter(learner=learner, type="saved").count() == 1


def test_two_path_completions_at_once_enrol_one_recommended_path(catalogue):
    learner = LearnerFactory()
    jobs = [
        lambda: recommendation_services.learning_path_enrol_recommended(learner=learner)
        for _ in range(4)
    ]
    results, errors = run_in_threads(*jobs)
    assert errors == [None] * 4
    assert len([r for r in results if r is not None]) == 1
    assert LearningPath.objects.filter(learner=learner).count() == 1
