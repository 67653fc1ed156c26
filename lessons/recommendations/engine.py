"""
RecommendationEngine (seed 003 Task 1, on learners and topics).

A request is: the snapshot (process memory after the first request of a generation), the
learner's row and their interactions grouped by topic and type (one indexed query each),
and numpy over the catalogue. Results are cached in Redis (the hot copy) and in
RecommendationCache (the durable copy, used when Redis lost the list but still knows the
learner's epoch); a cold list is computed by one process while concurrent requests for it
wait for that result instead of computing it again.
"""

from __future__ import annotations

import datetime
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.outbox import publish_event
from learners.models import Learner
from lessons.errors import (
    InvalidInteractionError,
    InvalidLearnerError,
    InvalidLimitError,
    InvalidStrategyError,
    LearnerNotFoundError,
    TopicNotFoundError,
)
from lessons.models import (
    InteractionType,
    LearnerInteraction,
    Microlesson,
    RecommendationCache,
    Topic,
)
from lessons.recommendations.similarity import LEVELS, Snapshot, snapshot_get
from lessons.recommendations.store import Store, epoch_key, list_key, store_for

logger = logging.getLogger(__name__)

STRATEGIES = ("hybrid", "collaborative", "content_based")
MAX_LIMIT = 50
# Added to the hybrid score of a topic the learner saved for later and has not completed:
# they said they want it, which outweighs most inferred evidence.
SAVED_BOOST = 0.5
_ROLE_PLURAL = {
    "sales_associate": "sales associates",
    "manager": "managers",
    "regional_director": "regional directors",
}


@dataclass(frozen=True)
class RecommendationResult:
    """One recommended topic: `score` in [0, 1], a reason a person can read, and context."""

    topic: str
    score: float
    reason: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "score": self.score,
            "reason": self.reason,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecommendationResult:
        return cls(
            topic=data["topic"],
            score=data["score"],
            reason=data["reason"],
            metadata=data.get("metadata", {}),
        )


def interaction_weight(interaction_type: str) -> Decimal:
    weights = settings.RECOMMENDATIONS_WEIGHTS
    if interaction_type not in InteractionType.values:
        raise InvalidInteractionError(
            f"Unknown interaction type {interaction_type!r}.",
            interaction_type=interaction_type,
            allowed=list(InteractionType.values),
        )
    return Decimal(str(weights.get(interaction_type, 1.0)))


def _learner_pk(learner_id: Any) -> int:
    if isinstance(learner_id, Learner):
        return learner_id.pk
    if learner_id is None or isinstance(learner_id, bool) or str(learner_id).strip() == "":
        raise InvalidLearnerError("A learner id is required.")
    try:
        value = int(str(learner_id).strip())
    except ValueError as exc:
        raise InvalidLearnerError(
            f"Learner id {learner_id!r} is not a number.", learner_id=str(learner_id)
        ) from exc
    if value <= 0 or value > 2**63 - 1:
        raise InvalidLearnerError(f"Learner id {value} is out of range.", learner_id=value)
    return value


@dataclass
class _Profile:
    weights: np.ndarray  # summed interaction weight per topic
    completed: np.ndarray  # bool per topic
    saved: np.ndarray  # bool per topic

    @property
    def empty(self) -> bool:
        return not self.weights.any()


class RecommendationEngine:
    """Personalised next topics for one learner.

    RecommendationEngine(learner_id=42).get_recommendations(limit=10) → [RecommendationResult]
    `cache` is a redis client or a Django cache (default: the process's Redis, else the
    default cache). A blank or malformed id raises InvalidLearnerError, an unknown one
    LearnerNotFoundError (both 4xx through the API).
    """

    def __init__(self, *, learner_id: Any, cache: Any = None):
        self.learner_id = _learner_pk(learner_id)
        self.store: Store = store_for(cache)
        self._learner: Learner | None = learner_id if isinstance(learner_id, Learner) else None
        # How many lists this instance computed (not served from a cache); for tests/bench.
        self.computed = 0

    # --- public ---------------------------------------------------------------------------

    def get_recommendations(
        self, *, limit: int = 10, strategy: str = "hybrid", exclude_completed: bool = True
    ) -> list[RecommendationResult]:
        """The best next topics, best first; completed topics left out unless asked."""
        limit = _check_limit(limit)
        if strategy not in STRATEGIES:
            raise InvalidStrategyError(
                f"Unknown strategy {strategy!r}.", strategy=strategy, allowed=list(STRATEGIES)
            )
        variant = strategy if exclude_completed else f"{strategy}+completed"
        generation, epoch, cached = self.store.lookup(learner_id=self.learner_id, strategy=variant)
        if cached is not None:
            return _decode(cached)[:limit]
        snapshot = self._snapshot(generation)
        if epoch is None:
            epoch = self._epoch()
        key = list_key(
            generation=snapshot.generation,
            learner_id=self.learner_id,
            epoch=epoch,
            strategy=variant,
        )
        # An unknown learner is a 404 here, before anyone takes the lock.
        durable = self._load(variant=variant, generation=snapshot.generation, epoch=epoch)
        if durable is not None:
            self.store.set(key, durable, ttl=settings.RECOMMENDATIONS_CACHE_SECONDS)
            return _decode(durable)[:limit]
        return self._compute_once(
            key=key,
            snapshot=snapshot,
            strategy=strategy,
            variant=variant,
            epoch=epoch,
            exclude_completed=exclude_completed,
        )[:limit]

    def frequently_completed_together(
        self, *, topic: str | Topic, limit: int = 5
    ) -> list[RecommendationResult]:
        """Topics learners who completed `topic` also completed, by co-occurrence cosine."""
        snapshot = self._snapshot()
        i = _topic_index(snapshot, topic)
        limit = _check_limit(limit)
        n_i = int(snapshot.support[i, i])
        order = np.argsort(-snapshot.cosine[i], kind="stable")
        results = []
        for j in order:
            if j == i or snapshot.cosine[i, j] <= 0:
                continue
            both = int(snapshot.support[i, j])
            share = both / n_i if n_i else 0.0
            results.append(
                RecommendationResult(
                    topic=snapshot.topics[j]["slug"],
                    score=round(float(snapshot.cosine[i, j]), 6),
                    reason=(
                        f"completed by {share:.0%} of associates who finished "
                        f"{snapshot.topics[i]['title']}"
                    ),
                    metadata={
                        "title": snapshot.topics[j]["title"],
                        "reason_code": "completed_together",
                        "learners_both": both,
                        "learners_topic": n_i,
                    },
                )
            )
            if len(results) >= limit:
                break
        return results

    def similar_topics(self, *, topic: str | Topic, limit: int = 10) -> list[RecommendationResult]:
        """Topics most like `topic` in tags, difficulty and the lessons' words."""
        snapshot = self._snapshot()
        i = _topic_index(snapshot, topic)
        limit = _check_limit(limit)
        order = np.argsort(-snapshot.content[i], kind="stable")
        results = []
        for j in order:
            if j == i:
                continue
            shared = sorted(set(snapshot.topics[i]["tags"]) & set(snapshot.topics[j]["tags"]))
            reason = f"like {snapshot.topics[i]['title']}" + (
                f" (both about {', '.join(shared[:3])})" if shared else ""
            )
            results.append(
                RecommendationResult(
                    topic=snapshot.topics[j]["slug"],
                    score=round(float(snapshot.content[i, j]), 6),
                    reason=reason,
                    metadata={
                        "title": snapshot.topics[j]["title"],
                        "reason_code": "similar_content",
                        "shared_tags": shared,
                    },
                )
            )
            if len(results) >= limit:
                break
        return results

    def record_interaction(
        self,
        *,
        topic: str | Topic,
        interaction_type: str,
        lesson: Microlesson | int | None = None,
        metadata: dict[str, Any] | None = None,
        created_at: datetime.datetime | None = None,
    ) -> bool:
        """Record that the learner did `interaction_type` with `topic`; invalidates their
        cached lists. True when recorded. Raises InvalidInteractionError for a bad type or
        metadata, TopicNotFoundError for an unknown topic."""
        weight = interaction_weight(interaction_type)
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidInteractionError("Metadata must be an object.", field="metadata")
        topic_obj = _topic_get(topic)
        learner = self._learner_get()
        lesson_id = lesson.pk if isinstance(lesson, Microlesson) else lesson
        with transaction.atomic():
            LearnerInteraction.objects.create(
                learner=learner,
                topic=topic_obj,
                lesson_id=lesson_id,
                type=interaction_type,
                weight=weight,
                metadata=metadata or {},
                created_at=created_at or timezone.now(),
            )
            self.invalidate_cache()
        return True

    def invalidate_cache(self) -> bool:
        """Forget the learner's cached lists (every strategy), in Redis and the durable copy."""
        invalidate_learners(learner_ids=[self.learner_id], store=self.store)
        return True

    # --- internals ------------------------------------------------------------------------

    def _snapshot(self, generation: str | None = None) -> Snapshot:
        return snapshot_get(
            store=self.store,
            time_window_hours=settings.RECOMMENDATIONS_WINDOW_HOURS,
            generation=generation,
        )

    def _epoch(self) -> str:
        key = epoch_key(self.learner_id)
        value = self.store.get(key)
        if value is None:
            self.store.incr_many([key])
            value = self.store.get(key)
        return str(value)

    def _learner_get(self) -> Learner:
        if self._learner is None:
            learner = (
                Learner.objects.filter(pk=self.learner_id)
                .only("id", "role", "knowledge_level")
                .first()
            )
            if learner is None:
                raise LearnerNotFoundError(
                    f"No learner {self.learner_id}.", learner_id=self.learner_id
                )
            self._learner = learner
        return self._learner

    def _load(self, *, variant: str, generation: int, epoch: str) -> str | None:
        """The learner (role, level) and their durable list if it is still good, in one
        query; LearnerNotFoundError if there is no such learner."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT l.role, l.knowledge_level, CAST(c.results AS TEXT) "
                "FROM learners_learner l LEFT JOIN lessons_recommendationcache c "
                "ON c.learner_id = l.id AND c.strategy = %s AND c.generation = %s "
                "AND c.epoch = %s AND c.expires_at > %s WHERE l.id = %s",
                [variant, generation, int(epoch), timezone.now(), self.learner_id],
            )
            row = cursor.fetchone()
        if row is None:
            raise LearnerNotFoundError(f"No learner {self.learner_id}.", learner_id=self.learner_id)
        if self._learner is None:
            self._learner = Learner(pk=self.learner_id, role=row[0], knowledge_level=row[1])
        return row[2]

    def _compute_once(self, *, key: str, **kwargs: Any) -> list[RecommendationResult]:
        """Compute a cold list once across processes: the lock holder computes and caches,
        the others poll for its result (bounded), then compute themselves if it never came."""
        lock = f"recs:lock:{key}"
        token = secrets.token_hex(8)
        wait = settings.RECOMMENDATIONS_LOCK_WAIT_SECONDS
        if self.store.add(lock, token, ttl=max(int(wait * 5), 5)):
            try:
                return self._compute_and_store(key=key, **kwargs)
            finally:
                self.store.release(lock, token)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            time.sleep(0.01)
            cached = self.store.get(key)
            if cached is not None:
                return _decode(cached)
        return self._compute_and_store(key=key, **kwargs)

    def _compute_and_store(
        self,
        *,
        key: str,
        snapshot: Snapshot,
        strategy: str,
        variant: str,
        epoch: str,
        exclude_completed: bool,
    ) -> list[RecommendationResult]:
        learner = self._learner_get()
        profile = self._profile(snapshot)
        results = rank(
            snapshot=snapshot,
            profile=profile,
            strategy=strategy,
            role=learner.role,
            level=LEVELS.get(learner.knowledge_level, 0),
            exclude_completed=exclude_completed,
            limit=MAX_LIMIT,
        )
        self.computed += 1
        payload = [r.to_dict() for r in results]
        encoded = json.dumps(payload)
        now = timezone.now()
        with transaction.atomic():
            # One upsert statement (INSERT … ON CONFLICT DO UPDATE), not a read then a write.
            RecommendationCache.objects.bulk_create(
                [
                    RecommendationCache(
                        learner_id=self.learner_id,
                        strategy=variant,
                        results=payload,
                        generation=snapshot.generation,
                        epoch=int(epoch),
                        expires_at=now
                        + datetime.timedelta(seconds=settings.RECOMMENDATIONS_CACHE_SECONDS),
                        created_at=now,
                    )
                ],
                update_conflicts=True,
                unique_fields=["learner", "strategy"],
                update_fields=["results", "generation", "epoch", "expires_at", "created_at"],
            )
            publish_event(
                "recommendations.generated",
                {
                    "learner_id": self.learner_id,
                    "strategy": strategy,
                    "exclude_completed": exclude_completed,
                    "topics": [r.topic for r in results[:10]],
                    "generation": snapshot.generation,
                },
            )
        self.store.set(key, encoded, ttl=settings.RECOMMENDATIONS_CACHE_SECONDS)
        return results

    def _profile(self, snapshot: Snapshot) -> _Profile:
        n = len(snapshot.topics)
        weights = np.zeros(n)
        completed = np.zeros(n, dtype=bool)
        saved = np.zeros(n, dtype=bool)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT topic_id, type, SUM(weight) FROM lessons_learnerinteraction "
                "WHERE learner_id = %s GROUP BY topic_id, type",
                [self.learner_id],
            )
            for topic_id, kind, weight in cursor.fetchall():
                i = snapshot.index.get(topic_id)
                if i is None:
                    continue
                weights[i] += float(weight)
                if kind == InteractionType.COMPLETED:
                    completed[i] = True
                elif kind == InteractionType.SAVED:
                    saved[i] = True
        return _Profile(weights=weights, completed=completed, saved=saved)


def invalidate_learners(
    *, learner_ids: list[int], store: Store | None = None, delete_durable: bool = True
) -> None:
    """Drop the cached lists of these learners: their epoch moves on, which retires both
    the Redis lists and the durable rows (each records its epoch); `delete_durable` also
    deletes those rows (batches skip it: one probe per learner for no change in answers)."""
    if not learner_ids:
        return
    store = store or store_for(None)
    if delete_durable:
        RecommendationCache.objects.filter(learner_id__in=learner_ids).delete()
    keys = [epoch_key(pk) for pk in learner_ids]
    # Now, and again after commit: a reader between the two may cache what it read before
    # the commit, under the first new epoch; the second bump leaves that entry unreachable.
    store.incr_many(keys)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: store.incr_many(keys))


# --- scoring ---------------------------------------------------------------------------------


def _normalise(values: np.ndarray) -> np.ndarray:
    top = values.max() if values.size else 0.0
    return values / top if top > 0 else np.zeros_like(values)


def _weighted_average(profile_weights: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    total = profile_weights.sum()
    if total <= 0:
        return np.zeros(matrix.shape[0])
    return (profile_weights @ matrix) / total


def _popularity(snapshot: Snapshot, role: str) -> tuple[np.ndarray, str]:
    """Share of learners who completed each topic: within the learner's role when that role
    has learners in the window, else overall; and how to say so."""
    role_counts = snapshot.role_counts.get(role)
    role_learners = snapshot.role_learners.get(role, 0)
    if role_counts is not None and role_learners:
        return role_counts / role_learners, _ROLE_PLURAL.get(role, "associates")
    if snapshot.learners:
        return snapshot.popularity / snapshot.learners, "associates"
    return np.zeros(len(snapshot.topics)), "associates"


def rank(
    *,
    snapshot: Snapshot,
    profile: _Profile,
    strategy: str,
    role: str,
    level: int,
    exclude_completed: bool,
    limit: int,
) -> list[RecommendationResult]:
    """Score every topic for one learner and return the best `limit`, each with a reason."""
    n = len(snapshot.topics)
    if n == 0:
        return []
    completed_weights = np.where(profile.completed, profile.weights, 0.0)
    # Collaborative evidence is what the learner completed; content evidence is everything
    # they touched (a topic they saved or started says what they want, too).
    collaborative = _weighted_average(completed_weights, snapshot.cosine)
    content = _weighted_average(profile.weights, snapshot.content)
    share, population = _popularity(snapshot, role)
    cold = not profile.completed.any()
    blend = settings.RECOMMENDATIONS_HYBRID_BLEND
    if strategy == "collaborative":
        scores = collaborative
    elif strategy == "content_based":
        scores = content
    elif cold and profile.empty:
        scores = _normalise(share)
    else:
        scores = (
            blend.get("collaborative", 0.0) * _normalise(collaborative)
            + blend.get("content_based", 0.0) * _normalise(content)
            + blend.get("popularity", 0.0) * _normalise(share)
        )
        total = sum(blend.values()) or 1.0
        scores = scores / total
    scores = np.clip(scores, 0.0, 1.0)
    # A topic above the learner's level is scored down per level (a beginner is not sent
    # advanced topics first); one two levels above comes after everything at reach.
    gap = np.clip(snapshot.levels - level, 0, None)
    scores = scores * settings.RECOMMENDATIONS_LEVEL_PENALTY**gap
    if strategy == "hybrid":
        scores = np.where(
            profile.saved & ~profile.completed, np.minimum(scores + 0.25, 1.0), scores
        )
    candidates = np.ones(n, dtype=bool)
    if exclude_completed:
        candidates &= ~profile.completed
    order = sorted(
        (int(j) for j in np.nonzero(candidates)[0]),
        key=lambda j: (gap[j] >= 2, -scores[j], snapshot.topics[j]["title"]),
    )
    results = []
    for j in order[:limit]:
        reason, code, extra = _reason(
            snapshot=snapshot,
            profile=profile,
            j=j,
            strategy=strategy,
            cold=cold,
            share=share,
            population=population,
            completed_weights=completed_weights,
        )
        topic = snapshot.topics[j]
        results.append(
            RecommendationResult(
                topic=topic["slug"],
                score=round(float(scores[j]), 6),
                reason=reason,
                metadata={
                    "title": topic["title"],
                    "strategy": strategy,
                    "reason_code": code,
                    "level": ["beginner", "intermediate", "advanced"][int(topic["level"])],
                    **extra,
                },
            )
        )
    return results


def _reason(
    *,
    snapshot: Snapshot,
    profile: _Profile,
    j: int,
    strategy: str,
    cold: bool,
    share: np.ndarray,
    population: str,
    completed_weights: np.ndarray,
) -> tuple[str, str, dict]:
    topics = snapshot.topics
    if strategy == "hybrid" and profile.saved[j] and not profile.completed[j]:
        return "you saved this for later", "saved", {}
    if strategy != "content_based" and not cold:
        contributions = completed_weights * snapshot.cosine[:, j]
        anchor = int(np.argmax(contributions))
        if contributions[anchor] > 0:
            n_anchor = int(snapshot.support[anchor, anchor])
            both = int(snapshot.support[anchor, j])
            fraction = both / n_anchor if n_anchor else 0.0
            return (
                f"completed by {fraction:.0%} of associates who finished {topics[anchor]['title']}",
                "completed_together",
                {"because_of": topics[anchor]["slug"], "share": round(fraction, 4)},
            )
    if strategy != "collaborative" and profile.weights.any():
        contributions = profile.weights * snapshot.content[:, j]
        anchor = int(np.argmax(contributions))
        if contributions[anchor] > 0:
            shared = sorted(set(topics[anchor]["tags"]) & set(topics[j]["tags"]))
            text = f"like {topics[anchor]['title']}, which you took"
            if shared:
                text += f" (both about {', '.join(shared[:3])})"
            return text, "similar_content", {"because_of": topics[anchor]["slug"]}
    if share[j] > 0:
        return (
            f"popular: completed by {share[j]:.0%} of {population}",
            "popular",
            {"share": round(float(share[j]), 4)},
        )
    return "a good place to start", "starter", {}


def _check_limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidLimitError(
            f"limit must be a whole number from 1 to {MAX_LIMIT}.", field="limit", limit=limit
        )
    return limit


def _topic_get(topic: str | Topic) -> Topic:
    if isinstance(topic, Topic):
        return topic
    found = Topic.objects.filter(slug=str(topic)).first() if topic else None
    if found is None:
        raise TopicNotFoundError(f"No topic {topic!r}.", topic=str(topic))
    return found


def _topic_index(snapshot: Snapshot, topic: str | Topic) -> int:
    slug = topic.slug if isinstance(topic, Topic) else str(topic or "")
    i = snapshot.slug_index.get(slug)
    if i is None:
        raise TopicNotFoundError(f"No topic {slug!r} with lessons.", topic=slug)
    return i


def _decode(text: str) -> list[RecommendationResult]:
    return [RecommendationResult.from_dict(item) for item in json.loads(text)]
