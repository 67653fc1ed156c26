"""
Benchmark: the reporting API on 1,000,000 flattened xAPI statements and 100,000 learners.

Runs against its own PostgreSQL database, `<DATABASE_URL's name>_reports` (created and
migrated here, kept between runs: other benchmarks empty the statement tables of the main
bench database). The data is seeded set-based (INSERT … SELECT generate_series) once and
reused while its marker row matches the sizes; BENCH_REPORTS_RESEED=1 seeds again.

The seeded world, over 30 days and written in time order as production writes it: 216
cohorts (200 stores, 12 regions, 4 teams), 20 topics of 15 lessons, ~3.3 lessons per
learner (a delivery task with its attempts, an xAPI 'received' statement, an answer for
80%, a completion for the right ones, ~0.5% voided), third-party LMS statements up to
1,000,000 rows, a learning path per learner, and about 1.1 million engagement metrics
rolled up into the daily tables (the rebuild is timed).

Each report endpoint is requested in-process through the whole Django/DRF stack as a staff
user (BENCH_REPORTS_REQUESTS times, parameters rotating over cohorts and lessons, after a
warm-up) and prints `name: value unit` lines: p50 and p95 per endpoint, delivery health
with its day cache cold, the full CSV export of the two 100,000-row reports, the
incremental rollup of 6 hours of new metrics, and last `reports_worst_p95` (target: under
200 ms).
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql as psql

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

LEARNERS = int(os.environ.get("BENCH_REPORTS_LEARNERS", "100000"))
STATEMENTS = int(os.environ.get("BENCH_REPORTS_STATEMENTS", "1000000"))
REQUESTS = int(os.environ.get("BENCH_REPORTS_REQUESTS", "40"))
RESEED = os.environ.get("BENCH_REPORTS_RESEED") == "1"
DAYS = 30
STORES, REGIONS, TEAMS = 200, 12, 4
TOPICS, LESSONS_PER_TOPIC = 20, 15
LESSONS = TOPICS * LESSONS_PER_TOPIC
EPISODES_PER_LEARNER = 3.3
SEED_VERSION = 2
SEED_MARKER = "bench_reports.seed"


def use_own_database() -> str:
    """Point DATABASE_URL at `<name>_reports`, creating that database if needed."""
    url = urlsplit(os.environ["DATABASE_URL"])
    name = f"{url.path.lstrip('/')}_reports"
    with psycopg.connect(url._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(psql.SQL("CREATE DATABASE {}").format(psql.Identifier(name)))
    os.environ["DATABASE_URL"] = url._replace(path=f"/{name}").geturl()
    return name


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["THROTTLE_USER"] = "100000000/min"  # measure the reports, not the throttle
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


# --- seeding ----------------------------------------------------------------------------

TABLES = [
    "learners_cohort",
    "learners_learner",
    "lessons_topic",
    "lessons_microlesson",
    "lessons_learningpath",
    "assessments_assessmentresult",
    "delivery_deliverytask",
    "delivery_deliveryattempt",
    "analytics_statement",
    "analytics_statementflat",
    "analytics_engagementmetric",
    "analytics_learnerengagementday",
    "analytics_cohortengagementday",
]


def seed_steps(start: datetime.datetime) -> list[tuple[str, str, dict]]:
    from django.conf import settings

    from analytics.handlers import VERBS

    episodes = int(LEARNERS * EPISODES_PER_LEARNER)
    values = {
        "L": LEARNERS,
        "E": episodes,
        "start": start,
        "actor": f"account:{settings.XAPI_BASE_IRI}|learner:",
        "lesson": f"{settings.XAPI_BASE_IRI}/xapi/activities/lessons/",
        "received": VERBS["delivered"][0],
        "answered": VERBS["answered"][0],
        "completed": VERBS["completed"][0],
        "statements": STATEMENTS,
    }
    channel = "(ARRAY['slack','sms','email'])[n % 3 + 1]"
    return [
        ("truncate", f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE", {}),
        (
            "cohorts",
            f"""
            INSERT INTO learners_cohort (kind, name, created_at)
            SELECT 'store', 'Store ' || lpad(g::text, 3, '0'), now()
              FROM generate_series(1, {STORES}) g;
            INSERT INTO learners_cohort (kind, name, created_at)
            SELECT 'region', 'Region ' || lpad(g::text, 2, '0'), now()
              FROM generate_series(1, {REGIONS}) g;
            INSERT INTO learners_cohort (kind, name, created_at)
            SELECT 'team', (ARRAY['Tills', 'Floor', 'Stockroom', 'Service desk'])[g], now()
              FROM generate_series(1, {TEAMS}) g;
            """,
            {},
        ),
        (
            "learners",
            f"""
            INSERT INTO learners_learner (
                employee_id, first_name, last_name, email, phone, role, knowledge_level,
                onboarding_completed, slack_user_id, preferred_channel, time_zone,
                preferred_send_time, slack_opted_out, sms_opted_out, email_opted_out,
                metadata, created_at, updated_at, store_id, region_id, team_id)
            SELECT 'B' || lpad(n::text, 7, '0'), 'First' || n,
                   'Last' || lpad(((n::bigint * 7919) % %(L)s)::text, 6, '0'),
                   'bench' || n || '@frontline.test', '+1555' || lpad(n::text, 7, '0'),
                   'sales_associate', 'beginner', true, 'U' || lpad(n::text, 8, '0'),
                   {channel}, 'UTC', '09:00', false, false, false, '{{}}', now(), now(),
                   n % {STORES} + 1, {STORES} + 1 + n % {REGIONS},
                   {STORES + REGIONS} + 1 + n % {TEAMS}
              FROM generate_series(1, %(L)s) n
            """,
            values,
        ),
        (
            "lessons",
            f"""
            INSERT INTO lessons_topic (slug, title, description, tags, created_at, updated_at)
            SELECT 'topic-' || t, 'Topic ' || t, '', '[]', now(), now()
              FROM generate_series(1, {TOPICS}) t;
            INSERT INTO lessons_microlesson (
                key, title, difficulty, source, content, key_points, scenario, quiz_question,
                quiz_options, correct_answer, explanation, generator_metadata, created_at,
                updated_at, generated_for_id, topic_id)
            SELECT 'lesson-' || m, 'Lesson ' || m, 'beginner', 'authored', 'Content', '[]', '',
                   'Question ' || m || '?', '["A", "B", "C", "D"]', m % 4, '', '{{}}', now(),
                   now(), NULL, (m - 1) / {LESSONS_PER_TOPIC} + 1
              FROM generate_series(1, {LESSONS}) m
            """,
            {},
        ),
        (
            "episodes",
            f"""
            DROP TABLE IF EXISTS bench_episode;
            CREATE UNLOGGED TABLE bench_episode AS
            SELECT e, n, m, d,
                   %(start)s::timestamptz + d * interval '1 day' + interval '8 hours'
                       + (n % 600) * interval '1 minute' AS ts,
                   answered,
                   answered AND ((n * 37) % 100) - ((m * 53) % 100)
                       + ((e::bigint * 7919) % 60) - 30 > -35 AS correct
              FROM (SELECT e, e % %(L)s + 1 AS n, e / %(L)s AS j,
                           (e::bigint * 2654435761) % 10 < 8 AS answered
                      FROM generate_series(0, %(E)s - 1) e) s,
                   LATERAL (SELECT ((n * 7 + j * 101) % {LESSONS}) + 1 AS m,
                                   (n + j * 7) % {DAYS} AS d) x
            """,
            values,
        ),
        (
            "paths",
            """
            INSERT INTO lessons_learningpath (
                name, status, difficulty, topics, current_position, completion_percentage,
                started_at, paused_at, completed_at, created_at, updated_at, learner_id,
                template_id)
            SELECT 'Onboarding',
                   CASE n % 5 WHEN 0 THEN 'not_started' WHEN 4 THEN 'completed'
                              ELSE 'in_progress' END,
                   'beginner', '["topic-1", "topic-2", "topic-3", "topic-4"]', n % 5,
                   (n % 5) * 25, CASE WHEN n % 5 > 0 THEN %(start)s::timestamptz END, NULL,
                   CASE WHEN n % 5 = 4 THEN %(start)s::timestamptz + interval '20 days' END,
                   %(start)s::timestamptz, now(), n, NULL
              FROM generate_series(1, %(L)s) n
            """,
            values,
        ),
        (
            "answers",
            f"""
            INSERT INTO assessments_assessmentresult (
                user_answer, is_correct, time_taken_seconds, channel, counted, is_review,
                attempted_at, learner_id, microlesson_id)
            SELECT CASE WHEN correct THEN m % 4 ELSE (m % 4 + 1 + e % 3) % 4 END, correct,
                   10 + e % 50, {channel}, true, false, ts + interval '1 hour', n, m
              FROM bench_episode WHERE answered
             ORDER BY ts
            """,
            values,
        ),
        (
            "delivery tasks",
            f"""
            INSERT INTO delivery_deliverytask (
                id, kind, state, local_date, sequence, channel, address, channels_tried,
                retry_count, next_attempt_at, provider_message_id, accepted_at, delivered_at,
                failed_at, last_error, error_category, answer_link_used_at, render_context,
                created_at, updated_at, learner_id, microlesson_id, parent_id)
            SELECT e + 1, 'lesson', state, (%(start)s::timestamptz + d * interval '1 day')::date,
                   0, {channel}, '', '[]', 0, NULL, '',
                   CASE WHEN state = 'delivered' THEN sent END,
                   CASE WHEN state = 'delivered' THEN sent + (e % 120 + 1) * interval '1 second'
                   END,
                   CASE WHEN state IN ('failed', 'dead_lettered') THEN sent END,
                   '', CASE WHEN state = 'failed' THEN 'permanent'
                            WHEN state = 'dead_lettered' THEN 'temporary' ELSE '' END,
                   NULL, '{{}}', sent, sent, n, m, NULL
              FROM (SELECT *, ts - interval '5 minutes' AS sent,
                           CASE WHEN e % 100 < 94 THEN 'delivered'
                                WHEN e % 100 < 96 THEN 'failed'
                                WHEN e % 100 < 97 THEN 'dead_lettered'
                                ELSE 'cancelled' END AS state
                      FROM bench_episode) ep
             ORDER BY sent;
            SELECT setval(pg_get_serial_sequence('delivery_deliverytask', 'id'),
                          (SELECT max(id) FROM delivery_deliverytask));
            """,
            values,
        ),
        (
            "delivery attempts",
            """
            INSERT INTO delivery_deliveryattempt (
                number, channel, address, status, retry_count, error_category, error_reason,
                error_message, provider_message_id, latency_ms, metadata, delivered_at,
                created_at, updated_at, task_id)
            SELECT k, channel, '',
                   CASE WHEN k = tries AND state = 'delivered' THEN 'delivered' ELSE 'failed' END,
                   k - 1,
                   CASE WHEN k = tries AND state = 'delivered' THEN ''
                        WHEN k = tries AND state = 'failed' THEN 'permanent'
                        ELSE 'temporary' END,
                   CASE WHEN k = tries AND state = 'delivered' THEN ''
                        WHEN k = tries AND state = 'failed' THEN 'invalid_recipient'
                        ELSE (ARRAY['timeout', 'rate_limited', 'server_error'])[(id + k) % 3 + 1]
                   END,
                   '', '', 120.0, '{}',
                   CASE WHEN k = tries AND state = 'delivered' THEN delivered_at END,
                   created_at + (k - 1) * interval '5 minutes', now(), id
              FROM (SELECT t.*, CASE WHEN state = 'cancelled' THEN 0
                                     WHEN state = 'dead_lettered' THEN 3
                                     WHEN state = 'failed' THEN 2
                                     WHEN id % 20 = 0 THEN 2 ELSE 1 END AS tries
                      FROM delivery_deliverytask t) t
              CROSS JOIN generate_series(1, 3) k
             WHERE k <= tries
             ORDER BY created_at + (k - 1) * interval '5 minutes'
            """,
            {},
        ),
        (
            "statements",
            """
            INSERT INTO analytics_statement (
                id, data, stored, timestamp, actor_key, verb_id, object_type, object_id,
                registration, refs, voids_id, voided, credential_id)
            SELECT gen_random_uuid(), '{}', k.at, k.at, %(actor)s || ep.n, k.verb, 'Activity',
                   %(lesson)s || ep.m || k.suffix, NULL, '{}', NULL, k.voided, NULL
              FROM bench_episode ep
             CROSS JOIN LATERAL (VALUES
                   (%(received)s, '', ep.ts, true, false),
                   (%(answered)s, '/question', ep.ts + interval '1 hour', ep.answered, false),
                   (%(completed)s, '', ep.ts + interval '1 hour', ep.correct, ep.e % 200 = 0)
             ) AS k(verb, suffix, at, present, voided)
             WHERE k.present
             ORDER BY k.at;
            INSERT INTO analytics_statement (
                id, data, stored, timestamp, actor_key, verb_id, object_type, object_id,
                registration, refs, voids_id, voided, credential_id)
            SELECT gen_random_uuid(), '{}', at, at,
                   'mbox:mailto:lms' || (g % 20000) || '@partner.example',
                   CASE WHEN g % 3 = 0 THEN %(completed)s
                        ELSE 'http://adlnet.gov/expapi/verbs/experienced' END,
                   'Activity', 'https://lms.partner.example/courses/' || (g % 500),
                   NULL, '{}', NULL, false, NULL
              FROM generate_series(1, greatest(
                       %(statements)s - (SELECT count(*) FROM analytics_statement), 0)) g,
                   LATERAL (SELECT %(start)s::timestamptz + (g % 30) * interval '1 day'
                                   + (g % 1440) * interval '1 minute' AS at) t
             ORDER BY at
            """,
            values,
        ),
        (
            "flattened statements",
            """
            INSERT INTO analytics_statementflat (
                statement_id, actor_key, actor_name, verb_id, verb_display, object_type,
                object_id, object_name, activity_type, result_success, result_completion,
                result_score_scaled, result_score_raw, result_duration, registration, platform,
                timestamp, stored, voided, flattened_at)
            SELECT id, actor_key, '', verb_id, '', object_type, object_id, '', '',
                   NULL, CASE WHEN verb_id = %(completed)s THEN true END, NULL, NULL, NULL, NULL,
                   CASE WHEN actor_key LIKE 'account:%' THEN 'Frontline' ELSE '' END,
                   timestamp, stored, voided, now()
              FROM analytics_statement
             ORDER BY stored
            """,
            values,
        ),
        (
            "engagement metrics",
            f"""
            INSERT INTO analytics_engagementmetric (
                event_type, event_data, channel, recorded_at, source_event_id, learner_id)
            SELECT k.kind, '{{}}', {channel}, k.at, NULL, n
              FROM bench_episode
             CROSS JOIN LATERAL (VALUES
                   ('lesson_sent', ts - interval '5 minutes', true),
                   ('lesson_started', ts + interval '1 hour', answered),
                   ('assessment_taken', ts + interval '1 hour', answered),
                   ('lesson_completed', ts + interval '1 hour', correct),
                   ('reminder_sent', ts + interval '4 hours', NOT answered)
             ) AS k(kind, at, present)
             WHERE k.present
             ORDER BY k.at;
            DROP TABLE bench_episode;
            """,
            values,
        ),
    ]


def literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime.datetime):
        return f"'{value.isoformat()}'::timestamptz"
    return "'" + str(value).replace("'", "''") + "'"


def render(sql: str, values: dict) -> str:
    """Inline the (trusted, generated) values: one multi-statement string, no parameters."""
    for key, value in values.items():
        sql = sql.replace(f"%({key})s", literal(value))
    return sql


def seeded() -> dict | None:
    from analytics.models import EtlCheckpoint

    marker = EtlCheckpoint.objects.filter(name=SEED_MARKER).first()
    wanted = {"version": SEED_VERSION, "learners": LEARNERS, "statements": STATEMENTS}
    if marker and all(marker.parameters.get(k) == v for k, v in wanted.items()):
        return marker.parameters
    return None


def seed() -> dict:
    from django.db import connection

    from analytics import engagement
    from analytics.models import EngagementMetric, EtlCheckpoint

    until = datetime.datetime.now(datetime.UTC).date()
    since = until - datetime.timedelta(days=DAYS - 1)
    start = datetime.datetime.combine(since, datetime.time.min, tzinfo=datetime.UTC)
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for label, sql, values in seed_steps(start):
            step = time.perf_counter()
            cursor.execute(render(sql, values))
            print(f"  seeded {label} in {time.perf_counter() - step:.1f} s", file=sys.stderr)
    step = time.perf_counter()
    rebuilt = engagement.rebuild(since=since, until=until)
    rebuild_seconds = time.perf_counter() - step
    last_id = EngagementMetric.objects.order_by("-id").values_list("id", flat=True).first()
    EtlCheckpoint.objects.update_or_create(
        name=engagement.ROLLUP_CHECKPOINT,
        defaults={"parameters": {"previous_last_id": last_id, "last_id": last_id}},
    )
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
    parameters = {
        "version": SEED_VERSION,
        "learners": LEARNERS,
        "statements": STATEMENTS,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "metrics": rebuilt.metrics_scanned,
        "rebuild_seconds": round(rebuild_seconds, 1),
        "seed_seconds": round(time.perf_counter() - began, 1),
    }
    EtlCheckpoint.objects.update_or_create(name=SEED_MARKER, defaults={"parameters": parameters})
    return parameters


# --- measuring --------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed_get(client, url: str, params: dict) -> float:
    started = time.perf_counter()
    response = client.get(url, params)
    if hasattr(response, "streaming_content"):
        for _chunk in response.streaming_content:
            pass
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{url} {params}: {response.status_code} {response.content[:300]!r}")
    return elapsed


def endpoint_cases(world: dict) -> dict[str, tuple[str, list[dict]]]:
    from learners.models import Cohort

    stores = list(Cohort.objects.filter(kind="store").order_by("pk").values_list("pk", flat=True))
    regions = list(Cohort.objects.filter(kind="region").order_by("pk").values_list("pk", flat=True))
    lessons = list(range(1, LESSONS + 1))
    since, until = world["since"], world["until"]
    week_start = (datetime.date.fromisoformat(until) - datetime.timedelta(days=6)).isoformat()
    middle_page = max(LEARNERS // 50 // 2, 1)  # deep OFFSET: half the learners skipped

    def rotate(make) -> list[dict]:
        return [make(i) for i in range(REQUESTS)]

    return {
        "list": ("", rotate(lambda i: {})),
        "cohort_completions_store": (
            "cohort-completions",
            rotate(lambda i: {"cohort": stores[(i * 37) % len(stores)]}),
        ),
        "cohort_completions_region": (
            "cohort-completions",
            rotate(lambda i: {"cohort": regions[i % len(regions)]}),
        ),
        "cohort_completions_region_topic": (
            "cohort-completions",
            rotate(
                lambda i: {"cohort": regions[i % len(regions)], "topic": f"topic-{i % TOPICS + 1}"}
            ),
        ),
        "lesson_incomplete": (
            "lesson-incomplete",
            rotate(lambda i: {"lesson": lessons[(i * 13) % LESSONS]}),
        ),
        "lesson_incomplete_received": (
            "lesson-incomplete",
            rotate(lambda i: {"lesson": lessons[(i * 13) % LESSONS], "received_only": "true"}),
        ),
        "lesson_incomplete_store": (
            "lesson-incomplete",
            rotate(
                lambda i: {
                    "lesson": lessons[(i * 13) % LESSONS],
                    "cohort": stores[(i * 37) % len(stores)],
                }
            ),
        ),
        "lesson_incomplete_middle_page": (
            "lesson-incomplete",
            rotate(lambda i: {"lesson": lessons[(i * 13) % LESSONS], "page": middle_page}),
        ),
        "learner_progress": ("learner-progress", rotate(lambda i: {"page": i % 20 + 1})),
        "learner_progress_region": (
            "learner-progress",
            rotate(lambda i: {"cohort": regions[i % len(regions)]}),
        ),
        "delivery_health_7d": (
            "delivery-health",
            rotate(lambda i: {"since": week_start, "until": until}),
        ),
        "delivery_health_30d_weekly": (
            "delivery-health",
            rotate(lambda i: {"since": since, "until": until, "granularity": "week"}),
        ),
        "delivery_health_7d_errors": (
            "delivery-health",
            rotate(lambda i: {"since": week_start, "until": until, "view": "errors"}),
        ),
        "engagement_regions_30d": (
            "engagement",
            rotate(lambda i: {"since": since, "until": until}),
        ),
        "engagement_stores_30d": (
            "engagement",
            rotate(lambda i: {"since": since, "until": until, "cohort_kind": "store"}),
        ),
        "engagement_store_weekly": (
            "engagement",
            rotate(
                lambda i: {
                    "since": since,
                    "until": until,
                    "granularity": "week",
                    "cohort": stores[(i * 37) % len(stores)],
                }
            ),
        ),
        "item_analysis_topic": (
            "item-analysis",
            rotate(lambda i: {"topic": f"topic-{i % TOPICS + 1}"}),
        ),
        "item_analysis_lesson": (
            "item-analysis",
            rotate(lambda i: {"lesson": lessons[(i * 13) % LESSONS]}),
        ),
    }


def measure_incremental_rollup() -> tuple[int, float]:
    """6 hours of new metrics (one per learner in 4), rolled up, then rolled back."""
    from django.db import connection, transaction

    from analytics import engagement

    class Rollback(Exception):
        pass

    elapsed, added = 0.0, 0
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    """
                    INSERT INTO analytics_engagementmetric
                        (event_type, event_data, channel, recorded_at, source_event_id, learner_id)
                    SELECT 'assessment_taken', '{}', 'slack',
                           now() - (n %% 360) * interval '1 minute', NULL, n
                      FROM generate_series(1, %s, 4) n
                    """,
                    [LEARNERS],
                )
                added = cursor.rowcount
            started = time.perf_counter()
            engagement.rollup()
            elapsed = time.perf_counter() - started
            raise Rollback
    except Rollback:
        pass
    return added, elapsed


def main() -> None:
    database = use_own_database()
    setup_django()
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from rest_framework.test import APIClient

    world = None if RESEED else seeded()
    if world is None:
        print(f"seeding {database} (once; later runs reuse it)", file=sys.stderr)
        world = seed()
        print(f"reports_seed: {world['seed_seconds']:.1f} s")
        print(f"engagement_rollup_rebuild_30d: {world['rebuild_seconds']:.1f} s")
    from analytics.models import StatementFlat
    from learners.models import Learner

    print(f"reports_flattened_statements: {StatementFlat.objects.count()} rows")
    print(f"reports_learners: {Learner.objects.count()} learners")
    print(f"reports_engagement_metrics: {world['metrics']} rows")

    from django.contrib.auth.models import Permission

    user, _ = get_user_model().objects.get_or_create(
        username="bench-reports", defaults={"is_staff": True}
    )
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="analytics", codename__in=["view_reports", "export_reports"]
        )
    )
    user = get_user_model().objects.get(pk=user.pk)
    client = APIClient()
    client.force_authenticate(user)
    worst = 0.0
    for name, (report, cases) in endpoint_cases(world).items():
        url = f"/api/v1/reports/{report}/" if report else "/api/v1/reports/"
        for params in cases[:3]:
            timed_get(client, url, params)
        times = [timed_get(client, url, params) * 1000 for params in cases]
        p95 = percentile(times, 0.95)
        worst = max(worst, p95)
        print(f"report_{name}_p50: {percentile(times, 0.5):.1f} ms")
        print(f"report_{name}_p95: {p95:.1f} ms")

    from analytics.reporting import delivery_health

    since = datetime.date.fromisoformat(world["since"])
    until = datetime.date.fromisoformat(world["until"])
    cache.delete_many(
        [
            delivery_health._CACHE_KEY.format(day=since + datetime.timedelta(days=n))
            for n in range((until - since).days + 1)
        ]
    )
    seconds = timed_get(
        client,
        "/api/v1/reports/delivery-health/",
        {"since": world["since"], "until": world["until"], "granularity": "week"},
    )
    print(f"report_delivery_health_30d_weekly_cold_cache: {seconds * 1000:.1f} ms")

    for name, report, params in (
        ("learner_progress", "learner-progress", {}),
        ("lesson_incomplete", "lesson-incomplete", {"lesson": 1}),
    ):
        seconds = timed_get(client, f"/api/v1/reports/{report}/", {**params, "format": "csv"})
        print(f"report_{name}_csv_all_rows: {seconds:.2f} s")

    added, seconds = measure_incremental_rollup()
    print(f"engagement_rollup_incremental_metrics: {added} rows")
    print(f"engagement_rollup_incremental: {seconds * 1000:.0f} ms")
    print(f"reports_worst_p95: {worst:.1f} ms")


if __name__ == "__main__":
    main()
