"""
Benchmark: dispatch planning for 100,000 due learners, and sending through a worker.

Runs against a throwaway PostgreSQL database (created and dropped here) and prints:
    dispatch_learners: 100000 learners
    dispatch_plain_insert: <n> rows/s       (baseline: multi-row INSERTs of the task rows)
    dispatch_planning: <n> learners/s       (plan_dispatch: due-learner query + task insert)
    dispatch_sends: <n> sends/s             (drain task -> local Slack-like server, no limits)
    ratio: <planning / plain insert>        (median of alternating pairs; target >= 0.5)
"""

import datetime
import os
import statistics
import sys
import time
from pathlib import Path

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
PAIRS = int(os.environ.get("BENCH_PAIRS", "5"))
SENDS = int(os.environ.get("BENCH_SENDS", "300"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["CELERY_BROKER_URL"] = "memory://"  # planning enqueues drains; nobody consumes here
ZONES = ["America/New_York", "Europe/Berlin", "Asia/Tokyo"]


def create_learners(rows: int) -> None:
    from learners.models import Learner

    batch = []
    for i in range(rows):
        batch.append(
            Learner(
                employee_id=f"B{i:07d}",
                first_name="Bench",
                last_name=f"Learner{i}",
                email=f"bench{i}@frontline.test",
                phone=f"+1555{i:07d}",
                role="sales_associate",
                preferred_channel="slack",
                slack_user_id=f"U{i:08d}",
                time_zone=ZONES[i % len(ZONES)],
                preferred_send_time=datetime.time(0, 0),
            )
        )
        if len(batch) == 5000:
            Learner.objects.bulk_create(batch)
            batch = []
    if batch:
        Learner.objects.bulk_create(batch)


def plain_insert(learner_ids: list[int], local_date: datetime.date) -> float:
    from django.db import connection, transaction

    now = datetime.datetime.now(datetime.UTC)
    row = "(%s, 'lesson', 'pending', %s, 0, '', '', '[]', 0, %s, '', '', '', '{}', %s, %s)"
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(learner_ids), 1000):
            chunk = learner_ids[start : start + 1000]
            params = []
            for learner_id in chunk:
                params += [learner_id, local_date, now, now, now]
            cursor.execute(
                "INSERT INTO delivery_deliverytask (learner_id, kind, state, local_date, sequence,"
                " channel, address, channels_tried, retry_count, next_attempt_at,"
                " provider_message_id, last_error, error_category, render_context, created_at,"
                " updated_at) VALUES " + ", ".join([row] * len(chunk)),
                params,
            )
    return time.perf_counter() - started


def truncate() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE delivery_deliveryattempt, delivery_deliverytask CASCADE")


def measure_sends(count: int) -> float:
    from django.conf import settings

    from delivery.models import DeliveryTask
    from delivery.tasks import drain_task
    from learners.models import Learner
    from lessons.models import Microlesson, Topic
    from tests.delivery.fakes import SLACK_TOKEN, FakeProviders

    topic = Topic.objects.create(slug="bench", title="Bench")
    lesson = Microlesson.objects.create(
        key="bench-lesson",
        topic=topic,
        title="Bench lesson",
        content="Check the receipt.",
        quiz_question="What first?",
        quiz_options=["Receipt", "Weather", "Clock"],
        correct_answer=0,
    )
    today = datetime.date.today()
    now = datetime.datetime.now(datetime.UTC)
    DeliveryTask.objects.bulk_create(
        DeliveryTask(learner=learner, microlesson=lesson, local_date=today, next_attempt_at=now)
        for learner in Learner.objects.order_by("id")[:count]
    )
    fake = FakeProviders().start()
    settings.SLACK_BOT_TOKEN = SLACK_TOKEN
    settings.SLACK_API_URL = fake.slack_base_url
    settings.DELIVERY_RATE_LIMITS = {"slack": 0, "sms": 0, "email": 0, "webhook": 0}
    settings.DELIVERY_DRAIN_BATCH = count
    try:
        started = time.perf_counter()
        drain_task.apply()  # the worker's task body, in this process
        elapsed = time.perf_counter() - started
    finally:
        fake.stop()
    sent = len(fake.accepted_for("slack"))
    assert sent == count, f"{sent} of {count} sent"
    return count / elapsed


def main() -> None:
    import django
    from django.conf import settings

    django.setup()
    settings.MIGRATION_MODULES = {app.split(".")[-1]: None for app in settings.INSTALLED_APPS}
    from django.db import connection

    connection.settings_dict["TEST"]["NAME"] = f"bench_dl_{connection.settings_dict['NAME']}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from delivery.models import DeliveryTask
        from delivery.planning import plan_dispatch
        from learners.models import Learner

        create_learners(ROWS)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        learner_ids = list(Learner.objects.order_by("id").values_list("id", flat=True))
        now = datetime.datetime(2026, 3, 4, 12, tzinfo=datetime.UTC)  # every zone past 00:00
        baseline_rates, planning_rates, ratios = [], [], []
        for _ in range(PAIRS):
            truncate()
            baseline = plain_insert(learner_ids, now.date())
            truncate()
            started = time.perf_counter()
            summary = plan_dispatch(now=now)
            planning = time.perf_counter() - started
            assert summary.planned == ROWS, summary
            assert DeliveryTask.objects.count() == ROWS
            baseline_rates.append(ROWS / baseline)
            planning_rates.append(ROWS / planning)
            ratios.append(baseline / planning)
        truncate()
        sends = measure_sends(min(SENDS, ROWS))
        print(f"dispatch_learners: {ROWS} learners")
        print(f"dispatch_plain_insert: {statistics.median(baseline_rates):.0f} rows/s")
        print(f"dispatch_planning: {statistics.median(planning_rates):.0f} learners/s")
        print(f"dispatch_sends: {sends:.0f} sends/s")
        print(f"ratio: {statistics.median(ratios):.2f}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
