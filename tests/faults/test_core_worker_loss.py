"""A worker killed while holding a message: Redis gives the message to another worker once
the visibility timeout has passed (minutes in production; one second here, set through the
same environment variables), and the task runs."""

import multiprocessing
import os
import signal
import sys

import pytest
from django_celery_results.models import TaskResult
from kombu import Connection

from config.celery_app import app as celery_app
from core.tasks import ping_task
from tests.faults.processes import Child, app_on_redis, child_env
from tests.faults.support import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _take_one_message_and_die(url: str) -> None:
    """A consumer that receives the task's message and is SIGKILLed before acking it."""
    with Connection(url, transport_options={"visibility_timeout": 1}) as conn:
        queue = conn.SimpleQueue("default")
        queue.get(block=True, timeout=10)
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_message_held_by_a_killed_worker_is_run_by_another_after_the_visibility_timeout(
    private_redis, tasks_queued
):
    with app_on_redis(private_redis.url):
        # given: a task queued on the private redis
        result = ping_task.apply_async(queue="default")
        # when: a worker takes its message and is killed before acknowledging it
        dying = multiprocessing.get_context("fork").Process(
            target=_take_one_message_and_die, args=(private_redis.url,)
        )
        dying.start()
        dying.join(timeout=20)
        assert dying.exitcode == -signal.SIGKILL
        redis = private_redis.client()
        assert redis.llen("default") == 0
        assert redis.hlen("unacked") == 1
    # then: a real worker, configured through the environment, restores and runs it
    env = child_env(
        REDIS_URL=private_redis.url,
        CELERY_VISIBILITY_TIMEOUT_SECONDS="1",
        CELERY_UNACKED_RESTORE_INTERVAL_SECONDS="1",
        CELERY_UNACKED_RESTORE_THROTTLE="1",
    )
    worker = Child(
        args=[
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--queues",
            "default",
            "--pool",
            "solo",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
        ],
        env=env,
    )
    worker.start()
    try:
        wait_until(
            lambda: TaskResult.objects.filter(task_id=result.id, status="SUCCESS").exists(),
            timeout=90,
            interval=0.2,
        )
        assert worker.alive, worker.output()[-2000:]
    finally:
        worker.stop()
    assert TaskResult.objects.get(task_id=result.id).result == '"pong"'
    assert private_redis.client().hlen("unacked") == 0
    assert celery_app.conf.task_reject_on_worker_lost is True


def test_production_defaults_hand_back_held_messages_within_minutes():
    options = celery_app.conf.broker_transport_options
    sweep = options["unacked_restore_interval"] * options["unacked_restore_throttle"]
    assert options["visibility_timeout"] + sweep <= 15 * 60
    assert options["visibility_timeout"] > celery_app.conf.task_time_limit
    assert celery_app.conf.task_acks_late is True
