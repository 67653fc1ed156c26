"""The Celery app: tasks autodiscovered from every installed app, configured from settings."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("frontline")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [
    Queue(name) for name in ("default", "deliveries", "etl", "reports", "recommendations")
]
app.autodiscover_tasks()

# Carries the request id from the enqueuing request into the task's log lines.
import core.logging  # noqa: E402

core.logging.connect_celery_signals()
