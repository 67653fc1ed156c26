"""Reminders for an unanswered lesson: first after 2 h, at most 3, in waking hours, within
the daily contact budget, stopped by an answer; then a pause until RESUME and a word to the
manager. Recorded as notifications with a job-run record."""

import datetime

import pytest
from django.utils import timezone

from assessments.services import submit_answer
from core.models import JobRun, OutboxEvent
from delivery.models import (
    DeliveryTask,
    LearnerDeliveryState,
    Notification,
    TaskKind,
    TaskState,
)
from delivery.reminders import learner_resume, reminder_plan, reminders_send
from delivery.services import task_send
from delivery.tasks import send_reminders_task
from tests.delivery.factories import DeliveryTaskFactory
from tests.learners.factories import LearnerFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
MORNING = datetime.datetime(2026, 3, 4, 9, 0, tzinfo=UTC)  # a Wednesday, learners in UTC


@pytest.fixture
def sent_lesson(live, lesson):
    """A Slack learner whose lesson went out at 09:00 UTC."""
    manager = LearnerFactory(preferred_channel="email")
    learner = LearnerFactory(preferred_channel="slack", time_zone="UTC", manager=manager)
    task = DeliveryTaskFactory(
        learner=learner, microlesson=lesson, local_date=MORNING.date(), next_attempt_at=MORNING
    )
    task_send(task_id=task.pk, now=MORNING)
    DeliveryTask.objects.filter(pk=task.pk).update(accepted_at=MORNING, delivered_at=MORNING)
    return DeliveryTask.objects.get(pk=task.pk)


def _reminders(task):
    return DeliveryTask.objects.filter(parent=task, kind=TaskKind.REMINDER).order_by("sequence")


def _run(now):
    counts = reminders_send(now=now)
    for reminder in DeliveryTask.objects.filter(state=TaskState.PENDING):
        task_send(task_id=reminder.pk, now=now)
    return counts


def test_first_reminder_comes_two_hours_after_the_lesson(sent_lesson):
    assert _run(MORNING + datetime.timedelta(minutes=119))["reminded"] == 0
    assert _run(MORNING + datetime.timedelta(minutes=120))["reminded"] == 1

    [reminder] = _reminders(sent_lesson)
    assert reminder.state == TaskState.DELIVERED and reminder.sequence == 1
    assert "Reminder 1 of 3" in reminder.render_context["text"]
    note = Notification.objects.get(kind=Notification.Kind.REMINDER)
    assert note.task == reminder and note.learner == sent_lesson.learner
    assert [
        e["sequence"]
        for e in OutboxEvent.objects.filter(topic="reminder.sent").values_list("payload", flat=True)
    ] == [1]


def test_three_reminders_then_pause_and_the_manager_is_told(sent_lesson, live):
    for hours in (2, 4, 6):
        _run(MORNING + datetime.timedelta(hours=hours))
    assert list(_reminders(sent_lesson).values_list("sequence", flat=True)) == [1, 2, 3]

    counts = _run(MORNING + datetime.timedelta(hours=8))

    assert counts == {"reminded": 0, "paused": 1, "managers_told": 1}
    assert LearnerDeliveryState.objects.get(learner=sent_lesson.learner).is_paused
    notice = DeliveryTask.objects.get(kind=TaskKind.MANAGER_NOTICE)
    assert notice.learner == sent_lesson.learner.manager and notice.state == TaskState.DELIVERED
    [email] = live.smtp.messages
    assert email.rcpt_tos == [sent_lesson.learner.manager.email]
    # paused: nothing more today
    assert _run(MORNING + datetime.timedelta(hours=10)) == {
        "reminded": 0,
        "paused": 0,
        "managers_told": 0,
    }


def test_an_answer_stops_the_sequence(sent_lesson):
    _run(MORNING + datetime.timedelta(hours=2))

    submit_answer(
        learner=sent_lesson.learner,
        microlesson=sent_lesson.microlesson,
        answer=1,
        channel="slack",
        now=MORNING + datetime.timedelta(hours=3),
    )

    assert reminder_plan(now=MORNING + datetime.timedelta(hours=4)) == []
    assert _reminders(sent_lesson).count() == 1


def test_reminders_wait_for_waking_hours(live, lesson, settings):
    settings.DELIVERY_WAKING_HOURS = ("08:00", "20:00")
    evening = datetime.datetime(2026, 3, 4, 18, 30, tzinfo=UTC)
    learner = LearnerFactory(preferred_channel="slack", time_zone="UTC")
    task = DeliveryTaskFactory(
        learner=learner, microlesson=lesson, local_date=evening.date(), next_attempt_at=evening
    )
    assert task_send(task_id=task.pk, now=evening).result == "accepted"
    DeliveryTask.objects.filter(pk=task.pk).update(accepted_at=evening)

    assert reminder_plan(now=evening + datetime.timedelta(hours=2)) == []  # 20:30
    # the same lesson sent in the morning would be reminded at 10:30
    DeliveryTask.objects.filter(pk=task.pk).update(
        accepted_at=evening - datetime.timedelta(hours=10)
    )
    assert len(reminder_plan(now=evening - datetime.timedelta(hours=8))) == 1


def test_the_daily_budget_holds_reminders_back(sent_lesson, settings):
    settings.DELIVERY_DAILY_BUDGET = 2  # the lesson plus one reminder

    _run(MORNING + datetime.timedelta(hours=2))
    _run(MORNING + datetime.timedelta(hours=4))

    assert _reminders(sent_lesson).count() == 1


def test_the_sms_budget_moves_reminders_to_another_channel(live, lesson, settings):
    settings.DELIVERY_DAILY_SMS_BUDGET = 1
    learner = LearnerFactory(preferred_channel="sms", time_zone="UTC")
    task = DeliveryTaskFactory(
        learner=learner, microlesson=lesson, local_date=MORNING.date(), next_attempt_at=MORNING
    )
    assert task_send(task_id=task.pk, now=MORNING).channel == "sms"
    DeliveryTask.objects.filter(pk=task.pk).update(accepted_at=MORNING)

    _run(MORNING + datetime.timedelta(hours=2))

    [reminder] = _reminders(task)
    assert reminder.channel == "slack"  # the one SMS of the day was the lesson


def test_resume_after_pause_does_not_pause_again_the_same_day(sent_lesson):
    for hours in (2, 4, 6, 8):
        _run(MORNING + datetime.timedelta(hours=hours))

    assert learner_resume(learner=sent_lesson.learner, how="staff") is True
    assert _run(MORNING + datetime.timedelta(hours=10))["paused"] == 0
    assert not LearnerDeliveryState.objects.get(learner=sent_lesson.learner).is_paused


def test_the_beat_task_records_a_job_run(sent_lesson, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: MORNING + datetime.timedelta(hours=2))

    send_reminders_task.delay()

    run = JobRun.objects.get(name="delivery.send_reminders")
    assert run.status == JobRun.Status.SUCCEEDED and run.counts["reminded"] == 1
    assert Notification.objects.get(kind="reminder").job_run == run


def test_staff_preview_lists_who_would_be_reminded(sent_lesson, admin_client, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: MORNING + datetime.timedelta(hours=2))

    response = admin_client.get("/admin/delivery/deliverytask/reminder-preview/")

    assert response.status_code == 200
    assert sent_lesson.learner.last_name in response.content.decode()
    assert not _reminders(sent_lesson).exists()


def test_planning_reads_in_one_query_for_any_number_of_learners(lesson, django_assert_num_queries):
    # given: five learners whose lessons were accepted at 09:00 and are still unanswered
    for _ in range(5):
        DeliveryTaskFactory(
            learner=LearnerFactory(preferred_channel="slack", time_zone="UTC"),
            microlesson=lesson,
            local_date=MORNING.date(),
            next_attempt_at=MORNING,
            state=TaskState.DELIVERED,
            accepted_at=MORNING,
        )
    # when / then: candidates, budget and resume state come from one query
    with django_assert_num_queries(1):
        plan = reminder_plan(now=MORNING + datetime.timedelta(hours=2, minutes=5))
    assert [action.action for action in plan] == ["remind"] * 5
