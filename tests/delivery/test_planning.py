"""Dispatch planning: each learner at their own local send time, never in quiet hours,
never twice a local day (a database constraint), set-based."""

import datetime
import zoneinfo

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from delivery.models import DeliveryTask, LearnerDeliveryState, TaskKind
from delivery.planning import plan_dispatch
from tests.delivery.factories import DeliveryTaskFactory
from tests.learners.factories import LearnerFactory

pytestmark = pytest.mark.django_db

ZONES = ["America/New_York", "Europe/Berlin", "Asia/Tokyo"]
UTC = datetime.UTC


def _planned_at(learner) -> list[datetime.date]:
    return list(
        DeliveryTask.objects.filter(learner=learner, kind=TaskKind.LESSON).values_list(
            "local_date", flat=True
        )
    )


def test_learners_in_three_zones_get_their_lesson_at_their_own_nine_oclock():
    # given: one learner per zone, each wanting 09:00 local (a Wednesday)
    learners = {zone: LearnerFactory(time_zone=zone) for zone in ZONES}
    day = datetime.date(2026, 3, 4)
    nine = {
        zone: datetime.datetime.combine(day, datetime.time(9), zoneinfo.ZoneInfo(zone)).astimezone(
            UTC
        )
        for zone in ZONES
    }
    # when: the planner runs every 5 minutes through the whole UTC day and beyond
    start = datetime.datetime(2026, 3, 3, 12, tzinfo=UTC)
    first_planned: dict[str, datetime.datetime] = {}
    tick = start
    while tick < datetime.datetime(2026, 3, 5, 12, tzinfo=UTC):
        plan_dispatch(now=tick)
        for zone, learner in learners.items():
            if zone not in first_planned and day in _planned_at(learner):
                first_planned[zone] = tick
        tick += datetime.timedelta(minutes=5)
    # then: each got that day's lesson at their own 09:00, exactly once per local day
    assert first_planned == nine
    for learner in learners.values():
        dates = _planned_at(learner)
        assert len(dates) == len(set(dates))
        assert day in dates


def test_nobody_is_planned_in_quiet_hours_even_past_their_send_time():
    # given: sends at 06:00 local but quiet until 08:00
    learner = LearnerFactory(
        time_zone="Europe/Berlin",
        preferred_send_time=datetime.time(6),
        quiet_hours_start=datetime.time(21),
        quiet_hours_end=datetime.time(8),
    )
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    # when / then: nothing at 06:00 or 07:55 local; planned at 08:00
    for hour, minute, expected in [(6, 0, 0), (7, 55, 0), (8, 0, 1)]:
        now = datetime.datetime(2026, 3, 4, hour, minute, tzinfo=berlin)
        plan_dispatch(now=now)
        assert len(_planned_at(learner)) == expected


def test_daytime_quiet_hours_hold_the_lesson_back_until_they_end():
    learner = LearnerFactory(
        time_zone="Asia/Tokyo",
        quiet_hours_start=datetime.time(9),
        quiet_hours_end=datetime.time(11),
    )
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")

    plan_dispatch(now=datetime.datetime(2026, 3, 4, 10, 30, tzinfo=tokyo))
    assert _planned_at(learner) == []
    plan_dispatch(now=datetime.datetime(2026, 3, 4, 11, 0, tzinfo=tokyo))
    assert _planned_at(learner) == [datetime.date(2026, 3, 4)]


def test_weekends_can_be_skipped(settings):
    settings.DELIVERY_SKIP_WEEKENDS = True
    learner = LearnerFactory(time_zone="UTC")
    saturday = datetime.datetime(2026, 3, 7, 10, tzinfo=UTC)

    assert plan_dispatch(now=saturday).planned == 0
    settings.DELIVERY_SKIP_WEEKENDS = False
    assert plan_dispatch(now=saturday).planned == 1
    assert _planned_at(learner) == [datetime.date(2026, 3, 7)]


def test_paused_learners_are_not_planned():
    learner = LearnerFactory(time_zone="UTC")
    LearnerDeliveryState.objects.create(learner=learner, paused_at=datetime.datetime.now(UTC))

    assert plan_dispatch(now=datetime.datetime(2026, 3, 4, 10, tzinfo=UTC)).planned == 0


def test_one_lesson_per_learner_per_local_day_is_a_database_constraint():
    task = DeliveryTaskFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        DeliveryTask.objects.create(
            learner=task.learner, kind=TaskKind.LESSON, local_date=task.local_date
        )
    # a reminder on the same day is not a second lesson
    DeliveryTask.objects.create(
        learner=task.learner,
        kind=TaskKind.REMINDER,
        local_date=task.local_date,
        parent=task,
        sequence=1,
    )


def test_planning_is_one_statement_per_zone_not_per_learner():
    for zone in ZONES:
        LearnerFactory.create_batch(20, time_zone=zone, preferred_send_time=datetime.time(0))
    now = datetime.datetime(2026, 3, 4, 12, tzinfo=UTC)

    with CaptureQueriesContext(connection) as queries:
        summary = plan_dispatch(now=now)

    assert summary.planned == 60
    inserts = [q for q in queries.captured_queries if q["sql"].lstrip().startswith("INSERT")]
    assert len(inserts) == len(ZONES)
    assert len(queries.captured_queries) <= len(ZONES) + 4
    assert plan_dispatch(now=now).planned == 0  # a re-run adds nothing


def test_dispatch_lessons_dry_run_counts_without_writing(capsys):
    LearnerFactory.create_batch(3, time_zone="UTC", preferred_send_time=datetime.time(0))

    call_command("dispatch_lessons", "--dry-run")

    out = capsys.readouterr().out
    assert "would plan 3 lesson(s)" in out
    assert DeliveryTask.objects.count() == 0


def test_dispatch_lessons_now_plans_and_sends(settings, capsys):
    from delivery.models import SinkMessage
    from tests.lessons.factories import LearningPathFactory, MicrolessonFactory, TopicFactory

    settings.SLACK_BOT_TOKEN = settings.TWILIO_ACCOUNT_SID = settings.EMAIL_HOST = ""
    MicrolessonFactory(topic=TopicFactory(slug="returns-policy"))
    learner = LearnerFactory(time_zone="UTC", preferred_send_time=datetime.time(0))
    LearningPathFactory(learner=learner, topics=["returns-policy"])

    call_command("dispatch_lessons", "--now")

    assert "planned 1 lesson(s)" in capsys.readouterr().out
    assert SinkMessage.objects.get().address == learner.email


def test_the_beat_task_plans_records_a_job_run_and_kicks_the_senders(
    live, lesson, django_capture_on_commit_callbacks
):
    from core.models import JobRun
    from delivery.tasks import plan_dispatch_task
    from tests.lessons.factories import LearningPathFactory

    learner = LearnerFactory(
        preferred_channel="slack", time_zone="UTC", preferred_send_time=datetime.time(0)
    )
    LearningPathFactory(learner=learner, topics=["returns-policy"])

    with django_capture_on_commit_callbacks(execute=True):
        plan_dispatch_task.delay()

    run = JobRun.objects.get(name="delivery.plan_dispatch")
    assert run.counts["planned"] == 1 and run.counts["by_zone"] == {"UTC": 1}
    [sent] = live.accepted_for("slack")
    assert sent["body"]["channel"] == learner.slack_user_id
    assert DeliveryTask.objects.get(learner=learner).state == "delivered"
