"""
Benchmark: draining a backlog at the provider's speed after an outage.

A backlog of due SMS lessons (BENCH_RECOVERY_SENDS, default 20,000: what an outage leaves)
is drained by two real Celery workers (`celery -A config worker`, two processes each)
through the drain chains, against a local Twilio stand-in that accepts at most
BENCH_RECOVERY_RATE messages a second and answers 429 above it; our shared RateLimiter is
configured at the same rate. Runs against a throwaway PostgreSQL database (created and
dropped here) and the bench Redis, and prints:
    recovery_backlog: <n> sends
    recovery_workers: 2 workers x 2 processes
    recovery_configured_rate: <r> sends/s        (the provider's limit and ours)
    recovery_achieved_rate: <a> sends/s          (accepted by the stand-in, first to last)
    recovery_elapsed: <s> s                      (kick to the last acceptance)
    recovery_provider_429: <n> answers           (calls above the provider's rate)
    recovery_possible_duplicates: <n> tasks
    ratio: <achieved / configured>               (target >= 0.8)
"""

import datetime
import os
import sys
import time
import uuid
from pathlib import Path

SENDS = int(os.environ.get("BENCH_RECOVERY_SENDS", "20000"))
RATE = float(os.environ.get("BENCH_RECOVERY_RATE", "15"))
WORKERS = 2
PROCESSES = int(os.environ.get("BENCH_RECOVERY_PROCESSES", "4"))
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def create_backlog(count: int) -> None:
    from django.utils import timezone

    from delivery.models import DeliveryTask
    from learners.models import Learner
    from lessons.models import Microlesson, Topic

    topic = Topic.objects.create(slug="bench-recovery", title="Bench")
    lesson = Microlesson.objects.create(
        key="bench-recovery-lesson",
        topic=topic,
        title="Bench lesson",
        content="Check the receipt.",
        quiz_question="What first?",
        quiz_options=["Receipt", "Weather", "Clock"],
        correct_answer=0,
    )
    Learner.objects.bulk_create(
        (
            Learner(
                employee_id=f"R{i:07d}",
                first_name="Bench",
                last_name=f"Learner{i}",
                email=f"recovery{i}@frontline.test",
                phone=f"+1555{i:07d}",
                role="sales_associate",
                preferred_channel="sms",
                time_zone="UTC",
                preferred_send_time=datetime.time(0, 0),
            )
            for i in range(count)
        ),
        batch_size=5000,
    )
    today = datetime.date.today()
    now = timezone.now()
    DeliveryTask.objects.bulk_create(
        (
            DeliveryTask(learner=learner, microlesson=lesson, local_date=today, next_attempt_at=now)
            for learner in Learner.objects.order_by("id").iterator()
        ),
        batch_size=5000,
    )


def main() -> None:
    import django
    from django.conf import settings

    django.setup()
    settings.MIGRATION_MODULES = {app.split(".")[-1]: None for app in settings.INSTALLED_APPS}
    from celery import Celery
    from django.db import connection

    from tests.delivery.fakes import TWILIO_SID, TWILIO_TOKEN, FakeProviders
    from tests.faults.support import CeleryWorker

    connection.settings_dict["TEST"]["NAME"] = f"bench_rc_{connection.settings_dict['NAME']}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    fake = FakeProviders().start()
    workers: list[CeleryWorker] = []
    try:
        from delivery.models import DeliveryTask

        create_backlog(SENDS)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        fake.limit_rate("twilio", RATE)
        database = connection.settings_dict
        redis_url = settings.REDIS_URL
        # A sender number of this run's own: the shared limiter's key starts empty.
        from_number = "+1777" + str(uuid.uuid4().int)[:7]
        env = {
            "DATABASE_URL": (
                f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
                f"{database['NAME']}"
            ),
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "CACHE_KEY_PREFIX": f"bench-recovery-{uuid.uuid4().hex[:8]}",
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_FROM_NUMBER": from_number,
            "TWILIO_API_URL": fake.url,
            "SLACK_BOT_TOKEN": "",
            "EMAIL_HOST": "",
            "DELIVERY_PUBLIC_BASE_URL": "https://frontline.example.com",
            "DELIVERY_RATE_SMS": str(RATE),
            "DELIVERY_DRAIN_CONCURRENCY": str(WORKERS * PROCESSES),
            "DELIVERY_DRAIN_BATCH_SECONDS": "15",
            "DELIVERY_DRAIN_BATCH": "100000",
            "LOG_LEVEL": "INFO",
            "OUTBOX_BATCH_SIZE": "500",
        }
        import redis

        redis.Redis.from_url(redis_url).delete("deliveries")  # the bench Redis: no leftovers
        workers = [
            CeleryWorker(env=env, queues="deliveries", concurrency=PROCESSES).start()
            for _ in range(WORKERS)
        ]
        deadline = time.monotonic() + 120
        while not all(worker.ready() for worker in workers):
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not start:\n" + workers[0].output()[-2000:])
            time.sleep(0.2)
        kicker = Celery(broker=redis_url, set_as_current=False)
        started = time.monotonic()
        kicker.send_task("delivery.drain", queue="deliveries")
        timeout = SENDS / RATE * 3 + 600
        last_tick = started
        while len(fake.accepted_for("twilio")) < SENDS:
            if time.monotonic() - started > timeout:
                raise RuntimeError(
                    f"only {len(fake.accepted_for('twilio'))} of {SENDS} accepted in {timeout:.0f}s"
                )
            if time.monotonic() - last_tick >= 60:  # beat's drain tick (retries fall due)
                kicker.send_task("delivery.drain", queue="deliveries")
                last_tick = time.monotonic()
            time.sleep(0.5)
        kicker.close()
        elapsed = time.monotonic() - started
        accepted_at = sorted(record["at"] for record in fake.accepted_for("twilio"))
        achieved = (len(accepted_at) - 1) / (accepted_at[-1] - accepted_at[0])
        deadline = time.monotonic() + 60
        while DeliveryTask.objects.filter(accepted_at__isnull=True).exists():
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        duplicates = DeliveryTask.objects.filter(possible_duplicate=True).count()
        print(f"recovery_backlog: {SENDS} sends")
        print(f"recovery_workers: {WORKERS} workers x {PROCESSES} processes")
        print(f"recovery_configured_rate: {RATE:.0f} sends/s")
        print(f"recovery_achieved_rate: {achieved:.1f} sends/s")
        print(f"recovery_elapsed: {elapsed:.1f} s")
        print(f"recovery_provider_429: {fake.rate_limited['twilio']} answers")
        print(f"recovery_possible_duplicates: {duplicates} tasks")
        print(f"ratio: {achieved / RATE:.2f}")
    finally:
        for worker in workers:
            worker.kill()
        fake.stop()
        with connection.cursor() as cursor:  # the killed workers' sessions of this database
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
