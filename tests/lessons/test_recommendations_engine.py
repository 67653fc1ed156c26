"""RecommendationEngine, RecommendationResult and BehaviorProcessor (seed 003 T1 unit specs)."""

import dataclasses
import datetime
from decimal import Decimal

import pytest
from django.core.cache import caches
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.models import OutboxEvent
from lessons.errors import (
    InvalidInteractionError,
    InvalidLearnerError,
    InvalidLimitError,
    InvalidStrategyError,
    LearnerNotFoundError,
    TopicNotFoundError,
)
from lessons.models import (
    LearnerInteraction,
    RecommendationCache,
    SimilarityType,
    TopicSimilarity,
)
from lessons.recommendations import BehaviorProcessor, RecommendationEngine, RecommendationResult
from lessons.recommendations.store import DjangoCacheStore, RedisStore
from tests.learners.factories import LearnerFactory
from tests.lessons.recommendations_support import (
    catalogue_create,
    history_create,
    rebuild,
    record,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(db):
    topics, lessons = catalogue_create()
    others = history_create()
    rebuild()
    return {"topics": topics, "lessons": lessons, "others": others}


@pytest.fixture
def learner(catalogue):
    return LearnerFactory(role="sales_associate", knowledge_level="beginner")


def slugs(results):
    return [r.topic for r in results]


def generated_events():
    return OutboxEvent.objects.filter(topic="recommendations.generated").count()


# --- initialisation ------------------------------------------------------------------------


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_a_blank_learner_id_is_refused(blank):
    with pytest.raises(InvalidLearnerError) as info:
        RecommendationEngine(learner_id=blank)
    assert info.value.code == "invalid_learner"
    assert info.value.status_code == 400


@pytest.mark.parametrize("bad", ["abc", "12x", "-3", "0", True])
def test_a_malformed_learner_id_is_refused(bad):
    with pytest.raises(InvalidLearnerError):
        RecommendationEngine(learner_id=bad)


def test_an_unknown_learner_is_not_found(catalogue):
    with pytest.raises(LearnerNotFoundError) as info:
        RecommendationEngine(learner_id=987654321).get_recommendations()
    assert info.value.status_code == 404


def test_a_learner_id_as_digits_or_instance_is_accepted(learner):
    assert RecommendationEngine(learner_id=str(learner.pk)).learner_id == learner.pk
    assert RecommendationEngine(learner_id=f" {learner.pk} ").learner_id == learner.pk
    assert RecommendationEngine(learner_id=learner).learner_id == learner.pk


def test_the_cache_may_be_a_redis_client_or_a_django_cache(redis_client):
    assert isinstance(RecommendationEngine(learner_id=1, cache=redis_client).store, RedisStore)
    assert isinstance(
        RecommendationEngine(learner_id=1, cache=caches["default"]).store, DjangoCacheStore
    )
    assert isinstance(RecommendationEngine(learner_id=1).store, RedisStore)


# --- the result ------------------------------------------------------------------------------


def test_a_result_is_frozen_and_round_trips_through_a_dict():
    result = RecommendationResult(topic="a", score=0.5, reason="why", metadata={"k": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 1.0  # type: ignore[misc]
    assert result.to_dict() == {"topic": "a", "score": 0.5, "reason": "why", "metadata": {"k": 1}}
    assert RecommendationResult.from_dict(result.to_dict()) == result


def test_to_dict_copies_the_metadata():
    result = RecommendationResult(topic="a", score=0.5, reason="why", metadata={"k": 1})
    result.to_dict()["metadata"]["k"] = 2
    assert result.metadata == {"k": 1}


# --- recording interactions ----------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, weight",
    [("delivered", "1.00"), ("started", "2.00"), ("completed", "4.00"), ("saved", "3.00")],
)
def test_every_interaction_type_is_recorded_with_its_configured_weight(learner, kind, weight):
    engine = RecommendationEngine(learner_id=learner.pk)
    assert engine.record_interaction(
        topic="store-safety", interaction_type=kind, metadata={"channel": "sms"}
    )
    row = LearnerInteraction.objects.get(learner=learner)
    assert (row.type, row.weight, row.topic.slug, row.metadata) == (
        kind,
        Decimal(weight),
        "store-safety",
        {"channel": "sms"},
    )


def test_weights_come_from_settings(learner, settings):
    settings.RECOMMENDATIONS_WEIGHTS = {"delivered": 0.5, "started": 1, "completed": 9, "saved": 2}
    RecommendationEngine(learner_id=learner.pk).record_interaction(
        topic="store-safety", interaction_type="completed"
    )
    assert LearnerInteraction.objects.get(learner=learner).weight == Decimal("9")


def test_an_unknown_interaction_type_is_refused_and_nothing_recorded(learner):
    with pytest.raises(InvalidInteractionError) as info:
        RecommendationEngine(learner_id=learner.pk).record_interaction(
            topic="store-safety", interaction_type="purchase"
        )
    assert "completed" in info.value.extra["allowed"]
    assert not LearnerInteraction.objects.filter(learner=learner).exists()


def test_an_unknown_topic_is_refused(learner):
    with pytest.raises(TopicNotFoundError):
        RecommendationEngine(learner_id=learner.pk).record_interaction(
            topic="no-such-topic", interaction_type="completed"
        )


def test_metadata_must_be_an_object(learner):
    with pytest.raises(InvalidInteractionError):
        RecommendationEngine(learner_id=learner.pk).record_interaction(
            topic="store-safety", interaction_type="completed", metadata=["x"]
        )


def test_recording_for_an_unknown_learner_is_not_found(catalogue):
    with pytest.raises(LearnerNotFoundError):
        RecommendationEngine(learner_id=99999999).record_interaction(
            topic="store-safety", interaction_type="completed"
        )


# --- strategies ------------------------------------------------------------------------------


def test_collaborative_ranks_what_learners_with_the_same_completions_went_on_to_complete(learner):
    record(learner, "returns-basics")
    results = RecommendationEngine(learner_id=learner.pk).get_recommendations(
        strategy="collaborative"
    )
    assert results[0].topic == "refund-fraud"
    assert results[0].reason == "completed by 75% of associates who finished Returns basics"
    assert results[0].metadata["because_of"] == "returns-basics"
    assert results[0].metadata["share"] == 0.75


def test_collaborative_normalises_for_popularity(learner):
    # store-safety was completed by as many learners as refund-fraud, but only one of them
    # also finished returns-basics: a cosine, not a raw count
    record(learner, "returns-basics")
    results = RecommendationEngine(learner_id=learner.pk).get_recommendations(
        strategy="collaborative"
    )
    scores = {r.topic: r.score for r in results}
    assert scores["refund-fraud"] == pytest.approx(3 / 12**0.5, abs=1e-6)
    assert scores["store-safety"] == pytest.approx(1 / 12**0.5, abs=1e-6)


def test_completed_topics_are_excluded_by_default(learner):
    record(learner, "returns-basics", "refund-fraud")
    results = RecommendationEngine(learner_id=learner.pk).get_recommendations()
    assert "returns-basics" not in slugs(results)
    assert "refund-fraud" not in slugs(results)


def test_completed_topics_can_be_included(learner):
    record(learner, "returns-basics")
    results = RecommendationEngine(learner_id=learner.pk).get_recommendations(
        exclude_completed=False
    )
    assert "returns-basics" in slugs(results)
    assert len(results) == 5


def test_content_based_ranks_topics_sharing_tags_and_words_first(learner):
    record(learner, "store-safety", type="started")
    results = RecommendationEngine(learner_id=learner.pk).get_recommendations(
        strategy="content_based"
    )
    assert results[0].topic == "fire-drill"
    assert results[0].reason == "like Store safety, which you took (both about safety)"
    assert results[0].metadata["reason_code"] == "similar_content"


def test_a_new_learner_gets_the_most_popular_topics_of_their_role(learner):
    results = RecommendationEngine(learner_id=learner.pk).get_recommendations()
    # associates: returns-basics 4 of 6; refund-fraud and store-safety 3; fire-drill 2
    assert slugs(results)[:4] == ["returns-basics", "refund-fraud", "store-safety", "fire-drill"]
    assert results[0].reason == "popular: completed by 67% of sales associates"
    assert results[0].metadata["reason_code"] == "popular"


def test_cold_start_respects_the_role(catalogue):
    manager = LearnerFactory(role="manager", knowledge_level="advanced")
    results = RecommendationEngine(learner_id=manager.pk).get_recommendations()
    assert set(slugs(results)[:2]) == {"advanced-audits", "fire-drill"}
    assert results[0].reason == "popular: completed by 100% of managers"


def test_a_beginner_is_not_sent_advanced_topics_first(learner):
    record(learner, "returns-basics", "refund-fraud", "store-safety", "fire-drill", type="saved")
    results = RecommendationEngine(learner_id=learner.pk).get_recommendations()
    assert slugs(results)[-1] == "advanced-audits"


def test_an_advanced_learner_is_sent_advanced_topics_on_their_merit(catalogue):
    expert = LearnerFactory(role="manager", knowledge_level="advanced")
    beginner = LearnerFactory(role="manager", knowledge_level="beginner")
    top_expert = RecommendationEngine(learner_id=expert.pk).get_recommendations()
    top_beginner = RecommendationEngine(learner_id=beginner.pk).get_recommendations()
    assert "advanced-audits" in slugs(top_expert)[:2]
    assert slugs(top_beginner)[-1] == "advanced-audits"


def test_a_saved_topic_is_lifted_with_its_reason(learner):
    # given: two learners with the same completion, one of whom saved fire-drill
    twin = LearnerFactory(role="sales_associate", knowledge_level="beginner")
    record(learner, "returns-basics")
    record(twin, "returns-basics")
    record(learner, "fire-drill", type="saved")

    # when
    saver = RecommendationEngine(learner_id=learner.pk).get_recommendations()
    other = RecommendationEngine(learner_id=twin.pk).get_recommendations()

    # then
    fire = next(r for r in saver if r.topic == "fire-drill")
    fire_twin = next(r for r in other if r.topic == "fire-drill")
    assert fire.reason == "you saved this for later"
    assert fire.score > fire_twin.score + 0.2
    assert fire_twin.reason != "you saved this for later"


@pytest.mark.parametrize("strategy", ["hybrid", "collaborative", "content_based"])
def test_scores_are_in_range_and_ranked(learner, strategy):
    record(learner, "returns-basics")
    results = RecommendationEngine(learner_id=learner.pk).get_recommendations(strategy=strategy)
    assert results
    assert all(0.0 <= r.score <= 1.0 for r in results)
    at_reach = [r.score for r in results if r.metadata["level"] != "advanced"]
    assert at_reach == sorted(at_reach, reverse=True)
    assert all(r.metadata["strategy"] == strategy for r in results)


def test_the_limit_is_respected(learner):
    results = RecommendationEngine(learner_id=learner.pk).get_recommendations(limit=2)
    assert len(results) == 2


@pytest.mark.parametrize("limit", [0, 51, "5", True, None])
def test_a_bad_limit_is_refused(learner, limit):
    with pytest.raises(InvalidLimitError):
        RecommendationEngine(learner_id=learner.pk).get_recommendations(limit=limit)


def test_an_unknown_strategy_is_refused(learner):
    with pytest.raises(InvalidStrategyError) as info:
        RecommendationEngine(learner_id=learner.pk).get_recommendations(strategy="magic")
    assert info.value.extra["allowed"] == ["hybrid", "collaborative", "content_based"]


def test_the_hybrid_blend_comes_from_settings(learner, settings):
    record(learner, "returns-basics")
    settings.RECOMMENDATIONS_HYBRID_BLEND = {"collaborative": 1.0}
    hybrid = RecommendationEngine(learner_id=learner.pk).get_recommendations()
    collaborative = RecommendationEngine(learner_id=learner.pk).get_recommendations(
        strategy="collaborative"
    )
    assert hybrid[0].topic == collaborative[0].topic == "refund-fraud"
    assert hybrid[0].score == pytest.approx(1.0)


def test_a_learner_with_everything_completed_gets_an_empty_list(learner):
    record(learner, "returns-basics", "refund-fraud", "store-safety", "fire-drill")
    record(learner, "advanced-audits")
    assert RecommendationEngine(learner_id=learner.pk).get_recommendations() == []


# --- similar and completed together -------------------------------------------------------


def test_similar_topics_are_ranked_by_content_similarity(catalogue):
    results = RecommendationEngine(learner_id=1).similar_topics(topic="returns-basics")
    assert "returns-basics" not in slugs(results)
    assert slugs(results)[0] in {"refund-fraud", "advanced-audits"}
    assert results[0].reason.startswith("like Returns basics (both about returns")
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    assert len(results) == 4


def test_similar_topics_of_an_unknown_topic_is_not_found(catalogue):
    with pytest.raises(TopicNotFoundError):
        RecommendationEngine(learner_id=1).similar_topics(topic="nope")


def test_frequently_completed_together_with_shares(catalogue):
    results = RecommendationEngine(learner_id=1).frequently_completed_together(
        topic="returns-basics", limit=5
    )
    assert slugs(results) == ["refund-fraud", "store-safety"]
    assert results[0].reason == "completed by 75% of associates who finished Returns basics"
    assert results[0].metadata["learners_both"] == 3
    assert results[1].metadata["learners_both"] == 1


def test_frequently_completed_together_limit(catalogue):
    results = RecommendationEngine(learner_id=1).frequently_completed_together(
        topic="returns-basics", limit=1
    )
    assert slugs(results) == ["refund-fraud"]


# --- cache -------------------------------------------------------------------------------------


def test_a_second_request_is_served_from_the_cache(learner):
    first = RecommendationEngine(learner_id=learner.pk)
    second = RecommendationEngine(learner_id=learner.pk)
    assert first.get_recommendations() == second.get_recommendations()
    assert (first.computed, second.computed) == (1, 0)
    assert generated_events() == 1


def test_a_cached_list_serves_any_smaller_limit(learner):
    engine = RecommendationEngine(learner_id=learner.pk)
    full = engine.get_recommendations(limit=10)
    assert engine.get_recommendations(limit=3) == full[:3]
    assert engine.computed == 1


def test_recording_an_interaction_invalidates_the_cache(learner):
    engine = RecommendationEngine(learner_id=learner.pk)
    before = engine.get_recommendations()
    engine.record_interaction(topic=before[0].topic, interaction_type="completed")
    after = engine.get_recommendations()
    assert before[0].topic not in slugs(after)
    assert engine.computed == 2


def test_invalidate_cache_forgets_every_strategy_and_the_durable_copy(learner):
    engine = RecommendationEngine(learner_id=learner.pk)
    for strategy in ("hybrid", "collaborative", "content_based"):
        engine.get_recommendations(strategy=strategy)
    assert RecommendationCache.objects.filter(learner=learner).count() == 3
    assert engine.invalidate_cache() is True
    assert not RecommendationCache.objects.filter(learner=learner).exists()
    engine.get_recommendations(strategy="collaborative")
    assert engine.computed == 4


def test_the_durable_copy_serves_when_redis_lost_the_list(learner, redis_client):
    RecommendationEngine(learner_id=learner.pk).get_recommendations()
    for key in redis_client.scan_iter("recs:list:*"):
        redis_client.delete(key)
    engine = RecommendationEngine(learner_id=learner.pk)
    assert engine.get_recommendations()
    assert engine.computed == 0
    assert list(redis_client.scan_iter("recs:list:*"))  # put back in Redis


def test_the_durable_copy_is_not_trusted_when_redis_forgot_the_epoch(learner, redis_client):
    RecommendationEngine(learner_id=learner.pk).get_recommendations()
    redis_client.flushdb()
    engine = RecommendationEngine(learner_id=learner.pk)
    engine.get_recommendations()
    assert engine.computed == 1


def test_a_new_similarity_snapshot_invalidates_every_list(learner):
    engine = RecommendationEngine(learner_id=learner.pk)
    engine.get_recommendations()
    BehaviorProcessor().build_cooccurrence_matrix(time_window_hours=720)
    engine.get_recommendations()
    assert engine.computed == 2


def test_an_expired_durable_copy_is_recomputed(learner, redis_client):
    RecommendationEngine(learner_id=learner.pk).get_recommendations()
    RecommendationCache.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    for key in redis_client.scan_iter("recs:list:*"):
        redis_client.delete(key)
    engine = RecommendationEngine(learner_id=learner.pk)
    engine.get_recommendations()
    assert engine.computed == 1


def test_the_engine_works_over_a_django_cache(learner):
    cache = caches["default"]
    engine = RecommendationEngine(learner_id=learner.pk, cache=cache)
    first = engine.get_recommendations()
    assert engine.get_recommendations() == first
    assert engine.computed == 1
    engine.invalidate_cache()
    engine.get_recommendations()
    assert engine.computed == 2


def test_generated_is_published_per_computation_with_the_topics(learner):
    RecommendationEngine(learner_id=learner.pk).get_recommendations(strategy="content_based")
    event = OutboxEvent.objects.get(topic="recommendations.generated")
    assert event.payload["learner_id"] == learner.pk
    assert event.payload["strategy"] == "content_based"
    assert event.payload["topics"]


# --- behaviour processor -----------------------------------------------------------------------


def test_process_events_records_a_batch_and_returns_the_count(learner):
    processed = BehaviorProcessor().process_events(
        [
            {"learner_id": learner.pk, "topic": "store-safety", "type": "delivered"},
            {"learner_id": learner.pk, "topic": "store-safety", "type": "started"},
            {
                "learner_id": learner.pk,
                "topic": "fire-drill",
                "type": "completed",
                "metadata": {"channel": "slack"},
                "created_at": "2026-01-02T03:04:05+00:00",
            },
        ]
    )
    assert processed == 3
    completed = LearnerInteraction.objects.get(learner=learner, type="completed")
    assert completed.metadata == {"channel": "slack"}
    assert completed.weight == Decimal("4")
    assert completed.created_at.isoformat() == "2026-01-02T03:04:05+00:00"


@pytest.mark.parametrize(
    "event",
    [
        {"topic": "store-safety", "type": "completed"},
        {"learner_id": "x", "topic": "store-safety", "type": "completed"},
        {"learner_id": 1, "topic": "nope", "type": "completed"},
        {"learner_id": 1, "topic": "store-safety", "type": "purchase"},
        {"learner_id": 1, "topic": "store-safety", "type": "completed", "metadata": [1]},
        {"learner_id": 1, "topic": "store-safety", "type": "completed", "created_at": "soon"},
        {"learner_id": 1, "topic": "store-safety", "type": "completed", "lesson_id": "a"},
        "not an event",
    ],
)
def test_process_events_skips_malformed_events(learner, event):
    if isinstance(event, dict) and event.get("learner_id") == 1:
        event = {**event, "learner_id": learner.pk}
    good = {"learner_id": learner.pk, "topic": "fire-drill", "type": "delivered"}
    assert BehaviorProcessor().process_events([event, good]) == 1
    assert LearnerInteraction.objects.filter(learner=learner).count() == 1


def test_process_events_skips_unknown_learners_and_lessons(learner):
    processed = BehaviorProcessor().process_events(
        [
            {"learner_id": 99999999, "topic": "fire-drill", "type": "delivered"},
            {
                "learner_id": learner.pk,
                "topic": "fire-drill",
                "type": "delivered",
                "lesson_id": 10**9,
            },
            {"learner_id": learner.pk, "topic": "fire-drill", "type": "delivered"},
        ]
    )
    assert processed == 1


def test_process_events_invalidates_the_learners_caches(learner):
    engine = RecommendationEngine(learner_id=learner.pk)
    top = engine.get_recommendations()[0].topic
    BehaviorProcessor().process_events(
        [{"learner_id": learner.pk, "topic": top, "type": "completed"}]
    )
    assert top not in slugs(engine.get_recommendations())
    assert engine.computed == 2


def test_build_cooccurrence_matrix_counts_learners_and_normalises(catalogue):
    matrix = BehaviorProcessor().build_cooccurrence_matrix(time_window_hours=720)
    i = matrix["topics"].index("returns-basics")
    j = matrix["topics"].index("refund-fraud")
    assert matrix["counts"][i][i] == 4
    assert matrix["counts"][i][j] == 3
    assert matrix["cosine"][i][j] == pytest.approx(3 / 12**0.5, abs=1e-6)
    assert matrix["learners"] == 7
    pair = TopicSimilarity.objects.get(
        topic__slug="returns-basics", similar_topic__slug="refund-fraud", type="co_occurrence"
    )
    assert pair.support == 3
    assert pair.score == Decimal("0.866025")


def test_the_time_window_leaves_old_completions_out(catalogue):
    old = timezone.now() - datetime.timedelta(hours=100)
    someone = LearnerFactory()
    record(someone, "returns-basics", "fire-drill", at=old)
    wide = BehaviorProcessor().build_cooccurrence_matrix(time_window_hours=200)
    narrow = BehaviorProcessor().build_cooccurrence_matrix(time_window_hours=50)
    i = wide["topics"].index("returns-basics")
    assert wide["counts"][i][i] == 5
    assert narrow["counts"][i][i] == 4


def test_similarity_scores_are_decimals_in_range(catalogue):
    rows = TopicSimilarity.objects.filter(type=SimilarityType.CONTENT)
    assert rows.count() == 20
    assert all(isinstance(r.score, Decimal) and 0 <= r.score <= 1 for r in rows)


def test_the_database_refuses_a_score_out_of_range(catalogue):
    topic, other = catalogue["topics"]["returns-basics"], catalogue["topics"]["fire-drill"]
    with pytest.raises(IntegrityError), transaction.atomic():
        TopicSimilarity.objects.create(
            topic=topic, similar_topic=other, score=Decimal("1.5"), type="content"
        )


@pytest.mark.parametrize("bad_learner", [True, False])
def test_a_batch_leaves_the_foreign_keys_checked_at_commit_again(learner, bad_learner):
    events = [{"learner_id": learner.pk, "topic": "fire-drill", "type": "delivered"}]
    if bad_learner:
        events.append({"learner_id": 99999999, "topic": "fire-drill", "type": "delivered"})
    assert BehaviorProcessor().process_events(events) == 1
    # a dangling row is accepted until commit (deferred), as before the batch
    dangling = LearnerInteraction.objects.create(
        learner_id=88888888, topic=learner_topic(), type="delivered", weight=1
    )
    dangling.delete()  # before the test's own constraint check at teardown


def learner_topic():
    from lessons.models import Topic

    return Topic.objects.get(slug="fire-drill")
