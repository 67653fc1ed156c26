"""
Demo data for the embedded mode (called by `manage.py seed_demo` after learners and lessons):
today's lesson for each demo learner, sent at once. Without provider credentials the local
sink takes them, so the admin shows tasks, attempts and sink messages straight away.
"""

from __future__ import annotations

import zoneinfo

from django.utils import timezone

from delivery.models import DeliveryTask, TaskKind
from delivery.services import drain_due
from learners.models import Learner


def seed(stdout) -> None:
    now = timezone.now()
    created = 0
    for learner in Learner.objects.filter(employee_id__startswith="DEMO"):
        local_date = now.astimezone(zoneinfo.ZoneInfo(learner.time_zone)).date()
        _task, made = DeliveryTask.objects.get_or_create(
            learner=learner,
            kind=TaskKind.LESSON,
            local_date=local_date,
            defaults={"next_attempt_at": now},
        )
        created += made
    counts = drain_due()
    stdout.write(f"Delivery: {created} lesson task(s) for today; sent: {counts or 'nothing due'}.")
