"""
Benchmark: the recommendation engine on 100,000 learners, 60 topics and ~2,000,000
interactions (a synthetic population: 12 cohorts, each favouring its own 5 topics, plus
a few topics everyone takes now and then). Data is loaded with COPY. Prints:

    recommendations_learners / _topics / _interactions
    recommendations_similarity_seconds: content similarity (TF-IDF) of every topic
    recommendations_cooccurrence_seconds: the co-occurrence rebuild over the window
    recommendations_uncached_p50_ms / _p95_ms: a learner's first request (target p95 < 50)
    recommendations_cached_p50_ms / _p95_ms: the same learners again (target p95 < 5)
    recommendations_process_events: events/s through BehaviorProcessor.process_events
    recommendations_plain_copy: rows/s of a plain COPY of the same rows
    recommendations_ndcg_<strategy> and _most_popular: NDCG@10 on a time split
    ratio: <x>   process_events / plain COPY, median of >= 5 alternating pairs (target >= 0.3)

Runs against a throwaway database (created and dropped here). BENCH_LEARNERS,
BENCH_PAIRS and BENCH_REQUESTS shorten or lengthen it.
"""

import datetime
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

LEARNERS = int(os.environ.get("BENCH_LEARNERS", "100000"))
TOPICS = 60
COHORTS = 12
TOPICS_PER_LEARNER = 7
PAIRS = max(int(os.environ.get("BENCH_PAIRS", "5")), 5)
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "1000"))
BATCH = 10_000


def main() -> None:
    import django
    from django.conf import settings

    django.setup()
    # Tables straight from the models: the benchmark measures recommendations, not migrations.
    settings.MIGRATION_MODULES = {app.split(".")[-1]: None for app in settings.INSTALLED_APPS}
    from django.db import connection

    connection.settings_dict["TEST"]["NAME"] = f"bench_recs_{connection.settings_dict['NAME']}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        figures = measure()
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
    for name, value, unit in figures:
        print(f"{name}: {value} {unit}".rstrip())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(round(q * (len(ordered) - 1)), len(ordered) - 1)]


def load_learners() -> list[int]:
    """COPY LEARNERS learners (every NOT NULL column of the model, from its defaults)."""
    from django.db import connection
    from django.utils import timezone

    from learners.models import Learner

    template = Learner(
        first_name="Bench", last_name="Learner", role="sales_associate", email="x@y.z"
    )
    now = timezone.now()
    fields = [f for f in Learner._meta.concrete_fields if f.column != "id"]
    base = {}
    for field in fields:
        value = getattr(template, field.attname)
        if field.column in ("created_at", "updated_at"):
            value = now
        if field.get_internal_type() == "JSONField":
            value = json.dumps(value)
        base[field.column] = value
    roles = ["sales_associate"] * 8 + ["manager"]
    columns = list(base)
    with connection.cursor() as cursor:
        sql = f"COPY learners_learner ({', '.join(columns)}) FROM STDIN"
        with cursor.copy(sql) as copy:
            for n in range(LEARNERS):
                row = dict(base)
                row["employee_id"] = f"B{n:07d}"
                row["email"] = f"bench{n}@frontline.test"
                row["role"] = roles[n % len(roles)]
                copy.write_row([row[c] for c in columns])
        cursor.execute("SELECT id FROM learners_learner ORDER BY id")
        return [r[0] for r in cursor.fetchall()]


def measure() -> list[tuple[str, str, str]]:
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from config.celery_app import app as celery_app
    from core.redis import get_redis
    from lessons.models import LearnerInteraction
    from lessons.recommendations import BehaviorProcessor, RecommendationEngine
    from lessons.recommendations import services as recommendation_services
    from lessons.recommendations.evaluation import BASELINE, evaluate
    from lessons.recommendations.synthetic import catalogue_create, events

    get_redis().flushdb()
    grouped = catalogue_create(topics=TOPICS, groups=COHORTS, prefix="bench")
    groups = [[t.pk for t in group] for group in grouped]
    popular = [group[0] for group in groups]
    learner_ids = load_learners()
    rng = random.Random(3)
    cohort_of = {pk: rng.randrange(COHORTS) for pk in learner_ids}
    start = timezone.now() - datetime.timedelta(days=29)
    weights = {k: str(v) for k, v in settings.RECOMMENDATIONS_WEIGHTS.items()}
    columns = "learner_id, topic_id, lesson_id, type, weight, metadata, created_at"
    started = time.perf_counter()
    with connection.cursor() as cursor:
        sql = f"COPY lessons_learnerinteraction ({columns}) FROM STDIN"
        with cursor.copy(sql) as copy:
            for event in events(
                learner_ids=learner_ids,
                cohort_of=cohort_of,
                groups=groups,
                popular=popular,
                topics_per_learner=TOPICS_PER_LEARNER,
                seed=5,
                start=start,
                days=28,
            ):
                copy.write_row(
                    (
                        event["learner_id"],
                        event["topic_id"],
                        None,
                        event["type"],
                        weights[event["type"]],
                        "{}",
                        event["created_at"],
                    )
                )
        cursor.execute("ANALYZE lessons_learnerinteraction")
        cursor.execute("ANALYZE learners_learner")
    load_seconds = time.perf_counter() - started
    interactions = LearnerInteraction.objects.count()

    from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: F401  (import not timed)

    started = time.perf_counter()
    recommendation_services.similarity_recalculate()
    similarity_seconds = time.perf_counter() - started
    started = time.perf_counter()
    BehaviorProcessor().build_cooccurrence_matrix(time_window_hours=720)
    cooccurrence_seconds = time.perf_counter() - started

    sample = random.Random(9).sample(learner_ids, REQUESTS)
    RecommendationEngine(learner_id=sample[0]).get_recommendations()  # load the snapshot
    uncached, cached = [], []
    for learner_id in sample[1:]:
        t0 = time.perf_counter()
        RecommendationEngine(learner_id=learner_id).get_recommendations()
        uncached.append((time.perf_counter() - t0) * 1000)
    for learner_id in sample[1:]:
        t0 = time.perf_counter()
        RecommendationEngine(learner_id=learner_id).get_recommendations()
        cached.append((time.perf_counter() - t0) * 1000)

    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for learner_id in sample[1:]:
            RecommendationEngine(learner_id=learner_id).invalidate_cache()
            RecommendationEngine(learner_id=learner_id).get_recommendations()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)

    # Evaluated before the batches below add random events at "now" (they would be noise
    # in the held-out part of the split).
    started = time.perf_counter()
    scores = evaluate(k=10, test_fraction=0.2, sample=5000)
    evaluation_seconds = time.perf_counter() - started

    # process_events against a plain COPY of the same rows, alternately, same process.
    topic_ids = [t for group in groups for t in group]
    now = timezone.now()

    def batch_events(seed: int) -> list[dict]:
        r = random.Random(seed)
        kinds = ["delivered", "started", "completed", "saved"]
        return [
            {
                "learner_id": r.choice(learner_ids),
                "topic_id": r.choice(topic_ids),
                "type": r.choice(kinds),
                "created_at": now,
            }
            for _ in range(BATCH)
        ]

    def plain_copy(batch: list[dict]) -> float:
        rows = [
            (e["learner_id"], e["topic_id"], None, e["type"], weights[e["type"]], "{}", now)
            for e in batch
        ]
        t0 = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            sql = f"COPY lessons_learnerinteraction ({columns}) FROM STDIN"
            with cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        return len(rows) / (time.perf_counter() - t0)

    def processed(batch: list[dict]) -> float:
        processor = BehaviorProcessor()
        t0 = time.perf_counter()
        count = processor.process_events(batch)
        elapsed = time.perf_counter() - t0
        assert count == len(batch), count
        return count / elapsed

    copy_rates, process_rates = [], []
    for pair in range(PAIRS):
        copy_rates.append(plain_copy(batch_events(1000 + pair)))
        process_rates.append(processed(batch_events(2000 + pair)))
    ratios = [p / c for p, c in zip(process_rates, copy_rates, strict=True)]

    celery_app.control.purge()  # publisher kicks with no worker listening

    figures = [
        ("recommendations_learners", f"{LEARNERS}", "learners"),
        ("recommendations_topics", f"{TOPICS}", "topics"),
        ("recommendations_interactions", f"{interactions}", "interactions"),
        ("recommendations_load_seconds", f"{load_seconds:.1f}", "s (COPY)"),
        ("recommendations_similarity_seconds", f"{similarity_seconds:.2f}", "s"),
        ("recommendations_cooccurrence_seconds", f"{cooccurrence_seconds:.2f}", "s"),
        ("recommendations_uncached_p50_ms", f"{percentile(uncached, 0.5):.2f}", "ms"),
        ("recommendations_uncached_p95_ms", f"{percentile(uncached, 0.95):.2f}", "ms"),
        ("recommendations_cached_p50_ms", f"{percentile(cached, 0.5):.2f}", "ms"),
        ("recommendations_cached_p95_ms", f"{percentile(cached, 0.95):.2f}", "ms"),
        (
            "recommendations_process_events",
            f"{statistics.median(process_rates):,.0f}",
            "events/s",
        ),
        ("recommendations_plain_copy", f"{statistics.median(copy_rates):,.0f}", "rows/s"),
        ("recommendations_evaluation_seconds", f"{evaluation_seconds:.1f}", "s"),
    ]
    for name, score in scores.items():
        figures.append((f"recommendations_ndcg_{name}", f"{score.ndcg:.4f}", ""))
    if scores:
        figures.append(
            (
                "recommendations_hybrid_beats_most_popular",
                str(scores["hybrid"].ndcg > scores[BASELINE].ndcg),
                "",
            )
        )
    figures.append(("ratio", f"{statistics.median(ratios):.2f}", ""))
    return figures


if __name__ == "__main__":
    main()
