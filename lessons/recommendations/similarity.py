"""
Topic-topic similarity, precomputed: content similarity (tags, difficulty, the lessons'
own words) and completion co-occurrence, both written to TopicSimilarity, and the
snapshot the engine scores against (a few small matrices over the catalogue, held in the
cache per generation and in each process's memory).
"""

from __future__ import annotations

import datetime
import json
import logging
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from learners.models import Role
from lessons.models import (
    Difficulty,
    InteractionType,
    Microlesson,
    SimilarityType,
    Topic,
    TopicSimilarity,
)
from lessons.recommendations.store import GENERATION_KEY, Store, snapshot_key

logger = logging.getLogger(__name__)

LEVELS = {Difficulty.BEGINNER: 0, Difficulty.INTERMEDIATE: 1, Difficulty.ADVANCED: 2}
_SCORE_PLACES = Decimal("0.000001")

# Content similarity = this blend of the text cosine, the tag overlap (Jaccard) and the
# closeness of the topics' entry difficulty.
CONTENT_BLEND = {"text": 0.6, "tags": 0.3, "difficulty": 0.1}


def to_score(value: float) -> Decimal:
    """A similarity as the Decimal the table stores, clamped into [0, 1]."""
    value = min(max(float(value), 0.0), 1.0)
    return Decimal(repr(value)).quantize(_SCORE_PLACES, rounding=ROUND_HALF_EVEN)


@dataclass
class CatalogueTopic:
    id: int
    slug: str
    title: str
    tags: list[str]
    level: int  # entry difficulty: the easiest authored lesson (0 beginner .. 2 advanced)
    text: str = ""


def catalogue(*, with_text: bool = False) -> list[CatalogueTopic]:
    """Topics that have at least one authored lesson (only those can be delivered)."""
    levels: dict[int, int] = {}
    texts: dict[int, list[str]] = {}
    rows = Microlesson.objects.filter(source=Microlesson.Source.AUTHORED)
    fields = ["topic_id", "difficulty"]
    if with_text:
        fields += ["title", "content", "key_points", "scenario", "quiz_question"]
    for row in rows.values(*fields):
        level = LEVELS.get(row["difficulty"], 0)
        levels[row["topic_id"]] = min(levels.get(row["topic_id"], level), level)
        if with_text:
            texts.setdefault(row["topic_id"], []).extend(
                [row["title"], row["content"], " ".join(row["key_points"] or []), row["scenario"]]
            )
    topics = []
    for topic in Topic.objects.filter(pk__in=levels).order_by("id"):
        text = ""
        if with_text:
            tags = " ".join(t.replace("-", " ") for t in topic.tags)
            text = " ".join([topic.title, topic.description, tags, *texts.get(topic.pk, [])])
        topics.append(
            CatalogueTopic(
                id=topic.pk,
                slug=topic.slug,
                title=topic.title,
                tags=list(topic.tags),
                level=levels[topic.pk],
                text=text,
            )
        )
    return topics


# --- content -----------------------------------------------------------------------------


def content_matrix(topics: list[CatalogueTopic]) -> np.ndarray:
    """Pairwise content similarity in [0, 1], 1 on the diagonal."""
    n = len(topics)
    if n == 0:
        return np.zeros((0, 0))
    # TF-IDF from scikit-learn rather than a hand-rolled bag of words: it does the
    # tokenising, English stop words, sublinear term frequency and L2 normalisation a
    # correct cosine needs, in a few lines, with no model to download; the texts are the
    # lessons staff wrote, so a word that appears in every topic ("customer") counts less.
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [t.text or t.title for t in topics]
    try:
        matrix = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(texts)
        text = (matrix @ matrix.T).toarray()
    except ValueError:  # nothing but stop words anywhere
        text = np.zeros((n, n))
    tags = [set(t.tags) for t in topics]
    jaccard = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            union = tags[i] | tags[j]
            value = len(tags[i] & tags[j]) / len(union) if union else 0.0
            jaccard[i, j] = jaccard[j, i] = value
    levels = np.array([t.level for t in topics], dtype=float)
    closeness = 1.0 - np.abs(levels[:, None] - levels[None, :]) / 2.0
    blend = (
        CONTENT_BLEND["text"] * text
        + CONTENT_BLEND["tags"] * jaccard
        + CONTENT_BLEND["difficulty"] * closeness
    )
    np.fill_diagonal(blend, 1.0)
    return np.clip(blend, 0.0, 1.0)


@transaction.atomic
def content_similarity_write(*, topic: Topic | None = None) -> int:
    """Recompute content similarity of every topic (or rows touching `topic`); rows written."""
    topics = catalogue(with_text=True)
    matrix = content_matrix(topics)
    index = {t.id: i for i, t in enumerate(topics)}
    rows = TopicSimilarity.objects.filter(type=SimilarityType.CONTENT)
    if topic is not None:
        rows = rows.filter(models_q_touching(topic.pk))
    rows.delete()
    if topic is not None and topic.pk not in index:
        return 0
    pairs = (
        [(i, j) for i in range(len(topics)) for j in range(len(topics)) if i != j]
        if topic is None
        else [(index[topic.pk], j) for j in range(len(topics)) if j != index[topic.pk]]
        + [(j, index[topic.pk]) for j in range(len(topics)) if j != index[topic.pk]]
    )
    TopicSimilarity.objects.bulk_create(
        [
            TopicSimilarity(
                topic_id=topics[i].id,
                similar_topic_id=topics[j].id,
                score=to_score(matrix[i, j]),
                type=SimilarityType.CONTENT,
            )
            for i, j in pairs
        ],
        batch_size=2000,
    )
    return len(pairs)


def models_q_touching(topic_id: int):
    from django.db.models import Q

    return Q(topic_id=topic_id) | Q(similar_topic_id=topic_id)


# --- co-occurrence ------------------------------------------------------------------------


@dataclass
class Cooccurrence:
    """Completion co-occurrence over a window: who completed what, by topic id."""

    topic_ids: list[int]
    counts: np.ndarray  # counts[i, j]: learners who completed both i and j (i == j: just i)
    role_counts: dict[str, list[int]] = field(default_factory=dict)  # per role, per topic
    role_learners: dict[str, int] = field(default_factory=dict)
    learners: int = 0
    since: datetime.datetime | None = None

    def cosine(self) -> np.ndarray:
        """Co-occurrence normalised for popularity: |A∩B| / sqrt(|A||B|)."""
        n = np.diag(self.counts).astype(float)
        denominator = np.sqrt(np.outer(n, n))
        with np.errstate(divide="ignore", invalid="ignore"):
            result = np.where(denominator > 0, self.counts / denominator, 0.0)
        return np.clip(result, 0.0, 1.0)


def cooccurrence_compute(
    *,
    topic_ids: list[int],
    time_window_hours: int,
    now: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
) -> Cooccurrence:
    """Count, over completions in the window (before `until` if given), how many learners
    completed each pair of topics."""
    from scipy import sparse

    since = (until or now or timezone.now()) - datetime.timedelta(hours=time_window_hours)
    index = {topic_id: i for i, topic_id in enumerate(topic_ids)}
    sql = (
        "SELECT DISTINCT i.learner_id, i.topic_id, l.role "
        "FROM lessons_learnerinteraction i JOIN learners_learner l ON l.id = i.learner_id "
        "WHERE i.type = %s AND i.created_at >= %s"
    )
    params: list = [InteractionType.COMPLETED, since]
    if until is not None:
        sql += " AND i.created_at < %s"
        params.append(until)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    learner_index: dict[int, int] = {}
    learner_role: dict[int, str] = {}
    row_ix, col_ix = [], []
    for learner_id, topic_id, role in rows:
        column = index.get(topic_id)
        if column is None:
            continue
        row = learner_index.setdefault(learner_id, len(learner_index))
        learner_role[row] = role
        row_ix.append(row)
        col_ix.append(column)
    n_topics = len(topic_ids)
    if not row_ix:
        return Cooccurrence(
            topic_ids=topic_ids, counts=np.zeros((n_topics, n_topics), dtype=np.int64), since=since
        )
    matrix = sparse.csr_matrix(
        (np.ones(len(row_ix), dtype=np.int64), (row_ix, col_ix)),
        shape=(len(learner_index), n_topics),
    )
    counts = (matrix.T @ matrix).toarray().astype(np.int64)
    roles = np.array([learner_role[r] for r in range(len(learner_index))])
    role_counts, role_learners = {}, {}
    for role in Role.values:
        mask = roles == role
        if mask.any():
            role_counts[role] = [int(v) for v in np.asarray(matrix[mask].sum(axis=0)).ravel()]
            role_learners[role] = int(mask.sum())
    return Cooccurrence(
        topic_ids=topic_ids,
        counts=counts,
        role_counts=role_counts,
        role_learners=role_learners,
        learners=len(learner_index),
        since=since,
    )


@transaction.atomic
def cooccurrence_write(cooccurrence: Cooccurrence) -> int:
    """Replace the co-occurrence rows: pairs with support, and the diagonal (popularity)."""
    TopicSimilarity.objects.filter(type=SimilarityType.CO_OCCURRENCE).delete()
    cosine = cooccurrence.cosine()
    ids = cooccurrence.topic_ids
    rows = []
    for i, j in zip(*np.nonzero(cooccurrence.counts), strict=True):
        rows.append(
            TopicSimilarity(
                topic_id=ids[i],
                similar_topic_id=ids[j],
                score=to_score(1.0 if i == j else cosine[i, j]),
                type=SimilarityType.CO_OCCURRENCE,
                support=int(cooccurrence.counts[i, j]),
            )
        )
    TopicSimilarity.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


# --- the snapshot the engine scores against -----------------------------------------------


@dataclass
class Snapshot:
    generation: int
    topics: list[dict]  # {"id", "slug", "title", "tags", "level"}
    content: np.ndarray  # content similarity, diagonal 0
    cosine: np.ndarray  # co-occurrence cosine, diagonal 0
    support: np.ndarray  # learners who completed both (diagonal: the topic)
    role_counts: dict[str, np.ndarray]
    role_learners: dict[str, int]
    learners: int
    index: dict[int, int] = field(default_factory=dict)
    slug_index: dict[str, int] = field(default_factory=dict)
    levels: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        self.index = {t["id"]: i for i, t in enumerate(self.topics)}
        self.slug_index = {t["slug"]: i for i, t in enumerate(self.topics)}
        self.levels = np.array([t["level"] for t in self.topics], dtype=float)

    @property
    def popularity(self) -> np.ndarray:
        return np.diag(self.support).astype(float)

    def to_json(self) -> str:
        return json.dumps(
            {
                "generation": self.generation,
                "topics": self.topics,
                "content": self.content.round(6).tolist(),
                "cosine": self.cosine.round(6).tolist(),
                "support": self.support.tolist(),
                "role_counts": {k: v.tolist() for k, v in self.role_counts.items()},
                "role_learners": self.role_learners,
                "learners": self.learners,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        data = json.loads(text)
        n = len(data["topics"])
        shape = (n, n)
        return cls(
            generation=data["generation"],
            topics=data["topics"],
            content=np.array(data["content"], dtype=float).reshape(shape),
            cosine=np.array(data["cosine"], dtype=float).reshape(shape),
            support=np.array(data["support"], dtype=np.int64).reshape(shape),
            role_counts={k: np.array(v, dtype=float) for k, v in data["role_counts"].items()},
            role_learners=data["role_learners"],
            learners=data["learners"],
        )


def current_generation() -> int:
    """The generation of the similarity rows: microseconds of their latest update (0: none)."""
    latest = TopicSimilarity.objects.aggregate(latest=Max("updated_at"))["latest"]
    return int(latest.timestamp() * 1_000_000) if latest else 0


def snapshot_build(
    *, generation: int, time_window_hours: int, cooccurrence: Cooccurrence | None = None
) -> Snapshot:
    """The snapshot from the similarity table (content similarity computed in memory when
    the table has none yet, so a fresh install recommends before the first job runs)."""
    topics = catalogue(with_text=False)
    ids = [t.id for t in topics]
    index = {topic_id: i for i, topic_id in enumerate(ids)}
    n = len(ids)
    content = np.zeros((n, n))
    cosine = np.zeros((n, n))
    support = np.zeros((n, n), dtype=np.int64)
    has_content = False
    for topic_id, similar_id, score, kind, count in TopicSimilarity.objects.values_list(
        "topic_id", "similar_topic_id", "score", "type", "support"
    ):
        i, j = index.get(topic_id), index.get(similar_id)
        if i is None or j is None:
            continue
        if kind == SimilarityType.CONTENT:
            content[i, j] = float(score)
            has_content = True
        elif i != j:
            cosine[i, j] = float(score)
            support[i, j] = count
        else:
            support[i, i] = count
    if not has_content and n:
        content = content_matrix(catalogue(with_text=True))
    if cooccurrence is None:
        cooccurrence = cooccurrence_compute(topic_ids=ids, time_window_hours=time_window_hours)
    if not support.any() and cooccurrence.counts.shape == support.shape:
        support = cooccurrence.counts
        cosine = cooccurrence.cosine()
    np.fill_diagonal(content, 0.0)
    np.fill_diagonal(cosine, 0.0)
    return Snapshot(
        generation=generation,
        topics=[
            {"id": t.id, "slug": t.slug, "title": t.title, "tags": t.tags, "level": t.level}
            for t in topics
        ],
        content=content,
        cosine=cosine,
        support=support,
        role_counts={k: np.array(v, dtype=float) for k, v in cooccurrence.role_counts.items()},
        role_learners=dict(cooccurrence.role_learners),
        learners=cooccurrence.learners,
    )


_memo: dict[int, Snapshot] = {}


def snapshot_get(
    *, store: Store, time_window_hours: int, generation: str | int | None = None
) -> Snapshot:
    """The current snapshot: process memory, else the cache, else built from the tables.
    `generation` is the current one when the caller already read it from the store."""
    raw = store.get(GENERATION_KEY) if generation is None else generation
    if raw is None:
        generation = current_generation()
        store.set(GENERATION_KEY, str(generation))
    else:
        generation = int(raw)
    snapshot = _memo.get(generation)
    if snapshot is not None:
        return snapshot
    text = store.get(snapshot_key(generation))
    if text is not None:
        snapshot = Snapshot.from_json(text)
    else:
        snapshot = snapshot_build(generation=generation, time_window_hours=time_window_hours)
        store.set(snapshot_key(generation), snapshot.to_json(), ttl=7 * 24 * 3600)
    _memo.clear()  # one generation at a time per process
    _memo[generation] = snapshot
    return snapshot


def snapshot_publish(*, store: Store, snapshot: Snapshot) -> None:
    """Make `snapshot` the current one (after the rows it came from committed)."""
    store.set(snapshot_key(snapshot.generation), snapshot.to_json(), ttl=7 * 24 * 3600)
    store.set(GENERATION_KEY, str(snapshot.generation))
