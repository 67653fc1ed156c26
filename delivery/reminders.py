"""
Reminders for today's unanswered lesson (seed 002 a.06), held to waking hours and the daily
contact budget: the first DELIVERY_REMINDER_AFTER_MINUTES after the lesson went out, then
as often again, at most DELIVERY_REMINDER_MAX. An answer stops the sequence. When the last
reminder also goes unanswered the learner is paused (no lessons, no reminders) until they
reply RESUME or staff resume them, and their manager can be told.
"""

from __future__ import annotations

import datetime
import logging
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from assessments.models import AssessmentResult
from delivery.models import (
    DeliveryTask,
    LearnerDeliveryState,
    Notification,
    TaskKind,
    TaskState,
)
from learners.models import Learner

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReminderAction:
    lesson_task: DeliveryTask
    action: str  # "remind" or "pause"
    sequence: int
    learner: Learner


def _parse(value: str) -> datetime.time:
    return datetime.time.fromisoformat(value)


def in_waking_hours(learner: Learner, local: datetime.datetime) -> bool:
    start, end = (_parse(v) for v in settings.DELIVERY_WAKING_HOURS)
    local_time = local.time().replace(tzinfo=None)
    return start <= local_time < end and not learner.in_quiet_hours(local_time)


def reminder_plan(*, now: datetime.datetime | None = None) -> list[ReminderAction]:
    """Who would be reminded (or paused) now. Reads only: the staff preview uses it too."""
    now = now or timezone.now()
    interval = datetime.timedelta(minutes=settings.DELIVERY_REMINDER_AFTER_MINUTES)
    answered = AssessmentResult.objects.filter(
        learner=OuterRef("learner"),
        microlesson=OuterRef("microlesson"),
        attempted_at__gte=OuterRef("accepted_at"),
    )
    paused = LearnerDeliveryState.objects.filter(
        learner=OuterRef("learner"), paused_at__isnull=False
    )
    # Messages the learner already got that local day (the contact budget), and when staff
    # or a RESUME last resumed them: read in the same query as the candidates.
    sent_that_day = (
        DeliveryTask.objects.filter(
            learner=OuterRef("learner"),
            local_date=OuterRef("local_date"),
            accepted_at__isnull=False,
        )
        .order_by()
        .values("learner")
        .annotate(n=Count("pk"))
        .values("n")
    )
    resumed_at = LearnerDeliveryState.objects.filter(learner=OuterRef("learner")).values(
        "resumed_at"
    )[:1]
    lessons = (
        DeliveryTask.objects.filter(
            kind=TaskKind.LESSON,
            state__in=[TaskState.DELIVERED, TaskState.IN_TRANSIT],
            accepted_at__isnull=False,
            accepted_at__lte=now - interval,
            microlesson__isnull=False,
            local_date__gte=(now - datetime.timedelta(days=1)).date(),
        )
        .exclude(Exists(answered))
        .exclude(Exists(paused))
        .annotate(
            reminders=Count("follow_ups", filter=Q(follow_ups__kind=TaskKind.REMINDER)),
            last_reminder_at=Max(
                "follow_ups__created_at", filter=Q(follow_ups__kind=TaskKind.REMINDER)
            ),
            sent_that_day=Coalesce(Subquery(sent_that_day), 0),
            resumed_at=Subquery(resumed_at),
        )
        .select_related("learner", "microlesson")
        .order_by("id")
    )
    actions: list[ReminderAction] = []
    for task in lessons:
        learner = task.learner
        local = now.astimezone(zoneinfo.ZoneInfo(learner.time_zone))
        if local.date() != task.local_date:
            continue  # a lesson of another day: its reminders are over
        last_contact = max(filter(None, [task.accepted_at, task.last_reminder_at]))
        if now - last_contact < interval:
            continue
        if task.reminders >= settings.DELIVERY_REMINDER_MAX:
            if task.resumed_at and task.resumed_at >= task.last_reminder_at:
                continue  # resumed since the last reminder: today's sequence is over
            actions.append(ReminderAction(task, "pause", task.reminders, learner))
            continue
        if not in_waking_hours(learner, local):
            continue
        if task.sent_that_day >= settings.DELIVERY_DAILY_BUDGET:
            continue
        actions.append(ReminderAction(task, "remind", task.reminders + 1, learner))
    return actions


def _reminder_text(task: DeliveryTask, sequence: int) -> dict:
    """What delivery.messages needs to word the reminder for its channel (Slack buttons,
    an SMS reply, the email link); "text" is the plain wording staff see in the admin."""
    lesson = task.microlesson
    options = list(lesson.quiz_options)
    return {
        "subject": f"Reminder: {lesson.title}",
        "text": (
            f"Reminder {sequence} of {settings.DELIVERY_REMINDER_MAX}: today's lesson "
            f'"{lesson.title}" is waiting for your answer.'
        ),
        "lesson_task_id": task.pk,
        "title": lesson.title,
        "question": lesson.quiz_question,
        "options": options,
        "sequence": sequence,
        "of": settings.DELIVERY_REMINDER_MAX,
    }


@transaction.atomic
def reminders_send(*, now: datetime.datetime | None = None, job_run=None) -> dict[str, int]:
    """Create the reminder tasks (and pauses, manager notices) that are due now."""
    now = now or timezone.now()
    counts = {"reminded": 0, "paused": 0, "managers_told": 0}
    created: list[int] = []
    for action in reminder_plan(now=now):
        task = action.lesson_task
        if action.action == "remind":
            reminder, made = DeliveryTask.objects.get_or_create(
                parent=task,
                kind=TaskKind.REMINDER,
                sequence=action.sequence,
                defaults={
                    "learner": action.learner,
                    "local_date": task.local_date,
                    "next_attempt_at": now,
                    "created_at": now,
                    "render_context": _reminder_text(task, action.sequence),
                },
            )
            if made:
                Notification.objects.create(
                    learner=action.learner,
                    kind=Notification.Kind.REMINDER,
                    task=reminder,
                    job_run=job_run,
                    detail={"lesson_task_id": task.pk, "sequence": action.sequence},
                )
                created.append(reminder.pk)
                counts["reminded"] += 1
            continue
        if learner_pause(
            learner=action.learner,
            reason=f"{action.sequence} reminders unanswered",
            job_run=job_run,
        ):
            counts["paused"] += 1
            manager = action.learner.manager
            if manager is not None and settings.DELIVERY_NOTIFY_MANAGER:
                notice, made = DeliveryTask.objects.get_or_create(
                    parent=task,
                    kind=TaskKind.MANAGER_NOTICE,
                    sequence=1,
                    defaults={
                        "learner": manager,
                        "local_date": task.local_date,
                        "next_attempt_at": now,
                        "created_at": now,
                        "render_context": {
                            "subject": f"{action.learner.full_name} has paused lessons",
                            "text": (
                                f"{action.learner.full_name} has not answered today's lesson "
                                f"after {action.sequence} reminders, so their lessons are "
                                "paused until they text RESUME to the lessons number (or "
                                "staff resume them in the admin)."
                            ),
                        },
                    },
                )
                if made:
                    Notification.objects.create(
                        learner=action.learner,
                        kind=Notification.Kind.MANAGER_NOTICE,
                        task=notice,
                        job_run=job_run,
                        detail={"manager_id": manager.pk},
                    )
                    created.append(notice.pk)
                    counts["managers_told"] += 1
    if created:
        transaction.on_commit(lambda: _send_now(created))
    return counts


def _send_now(task_ids: list[int]) -> None:
    """After commit: send the new tasks now. If the broker cannot take them they stay due,
    and beat's drain sends them; the commit is not undone and nothing raises."""
    from delivery.tasks import send_task

    for task_id in task_ids:
        try:
            send_task.delay(task_id)
        except Exception:
            logger.warning(
                "could not queue a send; beat's drain will send it",
                exc_info=True,
                extra={"task": task_id},
            )
            return


def learner_pause(*, learner: Learner, reason: str, job_run=None) -> bool:
    """Pause deliveries to `learner`; False if they already were paused."""
    state, _ = LearnerDeliveryState.objects.select_for_update().get_or_create(learner=learner)
    if state.paused_at is not None:
        return False
    state.paused_at = timezone.now()
    state.paused_reason = reason
    state.save(update_fields=["paused_at", "paused_reason", "updated_at"])
    Notification.objects.create(
        learner=learner, kind=Notification.Kind.PAUSED, job_run=job_run, detail={"reason": reason}
    )
    return True


@transaction.atomic
def learner_resume(*, learner: Learner, how: str) -> bool:
    """Resume deliveries (a RESUME reply, or staff); False if the learner was not paused."""
    state, _ = LearnerDeliveryState.objects.select_for_update().get_or_create(learner=learner)
    if state.paused_at is None:
        return False
    state.paused_at = None
    state.resumed_at = timezone.now()
    state.paused_reason = ""
    state.save(update_fields=["paused_at", "resumed_at", "paused_reason", "updated_at"])
    Notification.objects.create(
        learner=learner, kind=Notification.Kind.RESUMED, detail={"how": how}
    )
    return True
