"""`manage.py dispatch_lessons` with Redis (broker and cache) down: the lessons are planned
and committed, the after-commit kick of the senders fails, is logged, and the command
still ends well; the tasks stay due for beat's drain. A real subprocess against the test
database and a private redis-server that the test stops."""

import datetime
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from delivery.models import DeliveryTask, TaskState
from tests.learners.factories import LearnerFactory

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, redis_url: str) -> subprocess.CompletedProcess:
    database = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"
        ),
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "console",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_dispatch_with_redis_down_commits_the_lessons_and_logs_the_failed_kick(private_redis):
    # given: two learners due now, and Redis gone
    learners = [
        LearnerFactory(time_zone="UTC", preferred_send_time=datetime.time(0, 0)) for _ in range(2)
    ]
    private_redis.stop()

    # when
    result = _manage("dispatch_lessons", redis_url=private_redis.url)

    # then: no crash after the commit; the planned lessons are there, due, for beat's drain
    assert result.returncode == 0, result.stderr
    assert "planned 2 lesson(s)" in result.stdout
    assert "could not start a drain" in result.stdout + result.stderr
    tasks = DeliveryTask.objects.filter(learner__in=learners)
    assert tasks.count() == 2
    assert set(tasks.values_list("state", flat=True)) == {TaskState.PENDING}
    assert all(task.next_attempt_at is not None for task in tasks)
