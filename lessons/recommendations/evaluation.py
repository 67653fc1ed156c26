"""
Offline evaluation: split the recorded interactions by time, train on the past, and see
how well each strategy (and a most-popular baseline) ranks what learners completed later.

precision@k, recall@k and NDCG@k (binary relevance) are averaged over the evaluated
learners: those who completed something before the cut and something new after it.
Coverage is the share of the catalogue that appears in anyone's top k.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from learners.models import Learner
from lessons.models import InteractionType, LearnerInteraction
from lessons.recommendations.engine import STRATEGIES, _Profile, rank
from lessons.recommendations.similarity import (
    LEVELS,
    Snapshot,
    catalogue,
    content_matrix,
    cooccurrence_compute,
)

BASELINE = "most_popular"


@dataclass
class StrategyScore:
    strategy: str
    precision: float
    recall: float
    ndcg: float
    coverage: float
    learners: int

    def line(self, k: int) -> str:
        return (
            f"{self.strategy:<14} precision@{k} {self.precision:.4f}  recall@{k} "
            f"{self.recall:.4f}  NDCG@{k} {self.ndcg:.4f}  coverage {self.coverage:.2%}  "
            f"(learners {self.learners})"
        )


def _ndcg(ranked: list[int], relevant: set[int], k: int) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, t in enumerate(ranked[:k]) if t in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def evaluate(
    *, k: int = 10, test_fraction: float = 0.2, sample: int = 5000
) -> dict[str, StrategyScore]:
    """Evaluate every strategy and the baseline on a time split of the interactions."""
    # The cut: the completion (1 - test_fraction) of the way through, in time order (an
    # OFFSET on the (type, created_at) index, portable to SQLite unlike percentile_disc).
    completions = LearnerInteraction.objects.filter(type=InteractionType.COMPLETED)
    total = completions.count()
    if total < 2:
        return {}
    times = completions.order_by("created_at").values_list("created_at", flat=True)
    first = times[0]
    cutoff = times[min(int(total * (1.0 - test_fraction)), total - 1)]
    if cutoff is None:
        return {}
    topics = catalogue(with_text=True)
    ids = [t.id for t in topics]
    index = {topic_id: i for i, topic_id in enumerate(ids)}
    hours = int((cutoff - first).total_seconds() // 3600) + 1
    train = cooccurrence_compute(topic_ids=ids, time_window_hours=hours, until=cutoff)
    content = content_matrix(topics)
    np.fill_diagonal(content, 0.0)
    cosine = train.cosine()
    np.fill_diagonal(cosine, 0.0)
    snapshot = Snapshot(
        generation=0,
        topics=[
            {"id": t.id, "slug": t.slug, "title": t.title, "tags": t.tags, "level": t.level}
            for t in topics
        ],
        content=content,
        cosine=cosine,
        support=train.counts,
        role_counts={r: np.array(v, dtype=float) for r, v in train.role_counts.items()},
        role_learners=train.role_learners,
        learners=train.learners,
    )
    learner_ids = list(
        completions.filter(created_at__gte=cutoff)
        .order_by("learner_id")
        .values_list("learner_id", flat=True)
        .distinct()[:sample]
    )
    if not learner_ids:
        return {}
    people = {
        pk: (role, level)
        for pk, role, level in Learner.objects.filter(pk__in=learner_ids).values_list(
            "pk", "role", "knowledge_level"
        )
    }
    rows = [
        (learner_id, topic_id, kind, weight, created_at < cutoff)
        for learner_id, topic_id, kind, weight, created_at in LearnerInteraction.objects.filter(
            learner_id__in=learner_ids
        )
        .order_by()
        .values_list("learner_id", "topic_id", "type", "weight", "created_at")
        .iterator(chunk_size=20_000)
    ]
    n = len(ids)
    weights: dict[int, np.ndarray] = defaultdict(lambda: np.zeros(n))
    completed: dict[int, np.ndarray] = defaultdict(lambda: np.zeros(n, dtype=bool))
    saved: dict[int, np.ndarray] = defaultdict(lambda: np.zeros(n, dtype=bool))
    later: dict[int, set[int]] = defaultdict(set)
    for learner_id, topic_id, kind, weight, before in rows:
        i = index.get(topic_id)
        if i is None:
            continue
        if before:
            weights[learner_id][i] += float(weight)
            if kind == InteractionType.COMPLETED:
                completed[learner_id][i] = True
            elif kind == InteractionType.SAVED:
                saved[learner_id][i] = True
        elif kind == InteractionType.COMPLETED:
            later[learner_id].add(i)
    popularity = snapshot.popularity
    methods = [*STRATEGIES, BASELINE]
    sums = {m: [0.0, 0.0, 0.0] for m in methods}
    shown: dict[str, set[int]] = {m: set() for m in methods}
    evaluated = 0
    for learner_id in learner_ids:
        done = completed[learner_id]
        relevant = {i for i in later[learner_id] if not done[i]}
        if not done.any() or not relevant:
            continue
        evaluated += 1
        profile = _Profile(weights=weights[learner_id], completed=done, saved=saved[learner_id])
        role, level = people.get(learner_id, ("sales_associate", "beginner"))
        for method in methods:
            if method == BASELINE:
                # Ties broken by title, as the engine breaks them.
                order = sorted(
                    (i for i in range(n) if not done[i]),
                    key=lambda i: (-popularity[i], snapshot.topics[i]["title"]),
                )[:k]
            else:
                results = rank(
                    snapshot=snapshot,
                    profile=profile,
                    strategy=method,
                    role=role,
                    level=LEVELS.get(level, 0),
                    exclude_completed=True,
                    limit=k,
                )
                order = [snapshot.slug_index[r.topic] for r in results]
            hits = len(set(order) & relevant)
            sums[method][0] += hits / k
            sums[method][1] += hits / len(relevant)
            sums[method][2] += _ndcg(order, relevant, k)
            shown[method].update(order)
    if not evaluated:
        return {}
    return {
        m: StrategyScore(
            strategy=m,
            precision=sums[m][0] / evaluated,
            recall=sums[m][1] / evaluated,
            ndcg=sums[m][2] / evaluated,
            coverage=len(shown[m]) / n if n else 0.0,
            learners=evaluated,
        )
        for m in methods
    }
