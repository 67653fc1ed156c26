"""Engagement metrics recorded from the real outbox events, once each, and their rollups."""

import datetime

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from analytics import engagement
from analytics.models import (
    CohortEngagementDay,
    EngagementMetric,
    EtlCheckpoint,
    LearnerEngagementDay,
)
from analytics.tasks import engagement_rollup_task
from assessments.services import submit_answer
from core.models import JobRun
from core.outbox import dispatch_event, handlers_for, publish_event, publish_pending
from delivery.services import task_send
from tests.delivery.factories import DeliveryTaskFactory
from tests.learners.factories import CohortFactory, LearnerFactory
from tests.lessons.factories import MicrolessonFactory, TopicFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
HANDLER = {
    "lesson.sent": "analytics.engagement.on_lesson_sent",
    "reminder.sent": "analytics.engagement.on_reminder_sent",
    "channel.changed": "analytics.engagement.on_channel_changed",
    "lesson.completed": "analytics.engagement.on_lesson_completed",
    "assessment.answered": "analytics.engagement.on_assessment_answered",
}


def _through_outbox(capture, action):
    """Run `action`, then publish what it emitted and run the subscribed handlers, as the
    publisher does after commit. (Publishing explicitly: inside a test's transaction the
    publisher's after-commit kick is registered once for the whole test.)"""
    with capture(execute=True):
        result = action()
        publish_pending()
    return result


def _metrics(learner):
    return sorted(
        EngagementMetric.objects.filter(learner=learner).values_list("event_type", flat=True)
    )


@pytest.fixture
def lesson():
    return MicrolessonFactory(
        topic=TopicFactory(slug="returns-policy"),
        quiz_options=["The receipt", "The weather", "The clock"],
        correct_answer=0,
    )


# --- recording ----------------------------------------------------------------------------


@pytest.mark.parametrize("topic", sorted(HANDLER))
def test_each_engagement_topic_has_a_subscribed_handler(topic):
    assert HANDLER[topic] in handlers_for(topic)


def test_a_correct_answer_records_taken_started_and_completed(
    lesson, django_capture_on_commit_callbacks
):
    # given a learner answering through the assessments service (outbox → handlers)
    learner = LearnerFactory()
    answered_at = datetime.datetime(2026, 3, 2, 10, 15, tzinfo=UTC)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        submit_answer(
            learner=learner, microlesson=lesson, answer=0, channel="slack", now=answered_at
        )
    # then the answer, the lesson taken up and its completion are each recorded once
    assert _metrics(learner) == ["assessment_taken", "lesson_completed", "lesson_started"]
    taken = EngagementMetric.objects.get(learner=learner, event_type="assessment_taken")
    assert taken.channel == "slack"
    assert taken.recorded_at == answered_at
    assert taken.event_data["microlesson_id"] == lesson.pk
    assert taken.event_data["is_correct"] is True and taken.event_data["answer"] == 0
    assert taken.source_event_id is not None
    completed = EngagementMetric.objects.get(learner=learner, event_type="lesson_completed")
    assert completed.event_data == {"microlesson_id": lesson.pk, "topic": "returns-policy"}


def test_a_repeated_answer_is_taken_but_does_not_start_the_lesson_again(
    lesson, django_capture_on_commit_callbacks
):
    learner = LearnerFactory()
    for answer in (1, 2):
        _through_outbox(
            django_capture_on_commit_callbacks,
            lambda answer=answer: submit_answer(
                learner=learner, microlesson=lesson, answer=answer, channel="sms"
            ),
        )
    # two answers, one start, no completion (both wrong)
    assert _metrics(learner) == ["assessment_taken", "assessment_taken", "lesson_started"]
    assert set(
        EngagementMetric.objects.filter(learner=learner).values_list("channel", flat=True)
    ) == {"sms"}


def test_a_lesson_sent_by_delivery_is_recorded(lesson, django_capture_on_commit_callbacks):
    # given a lesson task for an email learner (the local sink / test mail backend)
    learner = LearnerFactory(preferred_channel="email")
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)
    # when delivery sends it
    with django_capture_on_commit_callbacks(execute=True):
        outcome = task_send(task_id=task.pk)
    # then
    assert outcome.result == "accepted"
    metric = EngagementMetric.objects.get(learner=learner)
    assert metric.event_type == "lesson_sent"
    assert metric.channel == "email"
    assert metric.event_data["task_id"] == task.pk
    assert metric.event_data["microlesson_id"] == lesson.pk


def test_reminders_and_channel_changes_are_recorded_with_their_details():
    learner = LearnerFactory()
    base = {
        "task_id": 5,
        "learner_id": learner.pk,
        "kind": "reminder",
        "channel": "sms",
        "microlesson_id": None,
        "local_date": "2026-03-02",
    }
    reminder = publish_event("reminder.sent", {**base, "sequence": 2})
    change = publish_event(
        "channel.changed",
        {**base, "kind": "lesson", "previous_channel": "slack", "reason": "channel_not_found"},
    )
    dispatch_event(event_pk=reminder.pk, handler=HANDLER["reminder.sent"])
    dispatch_event(event_pk=change.pk, handler=HANDLER["channel.changed"])

    sent = EngagementMetric.objects.get(event_type="reminder_sent")
    assert sent.event_data["sequence"] == 2 and sent.channel == "sms"
    assert sent.recorded_at == reminder.created_at
    changed = EngagementMetric.objects.get(event_type="channel_changed")
    assert changed.event_data["previous_channel"] == "slack"
    assert changed.event_data["reason"] == "channel_not_found"


def test_a_redelivered_event_counts_once():
    # given an answer event handled once
    learner = LearnerFactory()
    event = publish_event(
        "assessment.answered",
        {
            "result_id": 1,
            "learner_id": learner.pk,
            "microlesson_id": 3,
            "answer": 1,
            "is_correct": False,
            "counted": True,
            "is_review": False,
            "channel": "web",
            "attempted_at": "2026-03-02T08:00:00+00:00",
        },
    )
    assert dispatch_event(event_pk=event.pk, handler=HANDLER["assessment.answered"]) is True
    # when it is redelivered through the dispatcher, and the handler itself runs again
    assert dispatch_event(event_pk=event.pk, handler=HANDLER["assessment.answered"]) is False
    again = engagement.record_metrics(
        event, ("assessment_taken", {}), ("lesson_started", {}), when=timezone.now()
    )
    engagement.on_assessment_answered(event)
    # then the database constraint kept one row per event type
    assert again == 0
    assert _metrics(learner) == ["assessment_taken", "lesson_started"]
    assert EngagementMetric.objects.get(event_type="assessment_taken").channel == "web"


def test_an_event_for_an_unknown_learner_records_nothing():
    event = publish_event(
        "lesson.completed",
        {"learner_id": 999_999, "microlesson_id": 1, "topic": "x", "channel": "sms"},
    )
    assert dispatch_event(event_pk=event.pk, handler=HANDLER["lesson.completed"]) is True
    assert EngagementMetric.objects.count() == 0


def test_an_unknown_channel_is_stored_blank():
    learner = LearnerFactory()
    event = publish_event(
        "lesson.sent",
        {"task_id": 1, "learner_id": learner.pk, "channel": "webhook", "local_date": "2026-03-02"},
    )
    engagement.on_lesson_sent(event)
    assert EngagementMetric.objects.get().channel == ""


# --- rollups ------------------------------------------------------------------------------


def _at(day: int, hour: int = 9) -> datetime.datetime:
    return datetime.datetime(2026, 3, day, hour, tzinfo=UTC)


def _metric(learner, event_type, when, channel="slack"):
    return EngagementMetric.objects.create(
        learner=learner, event_type=event_type, channel=channel, recorded_at=when
    )


@pytest.fixture
def world():
    """Leeds and York stores in the North region; Ana and Ben in Leeds, Cy in York."""
    north = CohortFactory(kind="region", name="North")
    leeds = CohortFactory(kind="store", name="Leeds")
    york = CohortFactory(kind="store", name="York")
    ana = LearnerFactory(store=leeds, region=north)
    ben = LearnerFactory(store=leeds, region=north)
    cy = LearnerFactory(store=york, region=north)
    # 2 March: Ana sent + completed + 2 answers; Ben sent only. 3 March: Cy sent + reminder.
    _metric(ana, "lesson_sent", _at(2, 8))
    _metric(ana, "assessment_taken", _at(2, 9))
    _metric(ana, "assessment_taken", _at(2, 10))
    _metric(ana, "lesson_completed", _at(2, 10))
    _metric(ben, "lesson_sent", _at(2, 23))
    _metric(cy, "lesson_sent", _at(3, 0))  # midnight UTC belongs to the 3rd
    _metric(cy, "reminder_sent", _at(3, 12))
    return {"north": north, "leeds": leeds, "york": york, "ana": ana, "ben": ben, "cy": cy}


def _learner_day(learner, day):
    row = LearnerEngagementDay.objects.get(learner=learner, day=datetime.date(2026, 3, day))
    return (
        row.lessons_sent,
        row.lessons_started,
        row.lessons_completed,
        row.assessments_taken,
        row.reminders_sent,
        row.channel_changes,
    )


def _cohort_day(cohort, day):
    row = CohortEngagementDay.objects.get(cohort=cohort, day=datetime.date(2026, 3, day))
    return (row.active_learners, row.lessons_sent, row.lessons_completed, row.reminders_sent)


def test_rollup_counts_each_learner_and_cohort_day(world):
    # when
    result = engagement.rollup()
    # then per learner and UTC day
    assert _learner_day(world["ana"], 2) == (1, 0, 1, 2, 0, 0)
    assert _learner_day(world["ben"], 2) == (1, 0, 0, 0, 0, 0)
    assert _learner_day(world["cy"], 3) == (1, 0, 0, 0, 1, 0)
    assert LearnerEngagementDay.objects.count() == 3
    # and per cohort: (active learners, sent, completed, reminders)
    assert _cohort_day(world["leeds"], 2) == (2, 2, 1, 0)
    assert _cohort_day(world["north"], 2) == (2, 2, 1, 0)
    assert _cohort_day(world["york"], 3) == (1, 1, 0, 1)
    assert _cohort_day(world["north"], 3) == (1, 1, 0, 1)
    assert CohortEngagementDay.objects.count() == 4
    assert result.metrics_scanned == 7
    assert result.days == [datetime.date(2026, 3, 2), datetime.date(2026, 3, 3)]


def test_rollup_is_idempotent(world):
    engagement.rollup()
    before = list(LearnerEngagementDay.objects.order_by("pk").values())
    cohorts_before = list(
        CohortEngagementDay.objects.order_by("pk").values(
            "cohort", "day", "active_learners", "lessons_sent"
        )
    )
    engagement.rollup()
    engagement.rollup()
    after = list(LearnerEngagementDay.objects.order_by("pk").values())
    assert [{**r, "updated_at": None} for r in after] == [{**r, "updated_at": None} for r in before]
    assert (
        list(
            CohortEngagementDay.objects.order_by("pk").values(
                "cohort", "day", "active_learners", "lessons_sent"
            )
        )
        == cohorts_before
    )


def test_a_late_event_for_an_earlier_day_is_recounted_not_added(world):
    engagement.rollup()
    # when a metric for 2 March arrives after the rollup
    _metric(world["ben"], "lesson_completed", _at(2, 20))
    engagement.rollup()
    # then Ben's day is recounted and Leeds' figures follow
    assert _learner_day(world["ben"], 2) == (1, 0, 1, 0, 0, 0)
    assert _cohort_day(world["leeds"], 2) == (2, 2, 2, 0)
    # untouched days keep their figures
    assert _cohort_day(world["york"], 3) == (1, 1, 0, 1)


def test_a_metric_committed_after_a_run_read_past_its_id_is_still_counted(world):
    # given a metric whose id was handed out before the run but committed after it
    late = _metric(world["cy"], "channel_changed", _at(3, 15))
    late_id = late.pk
    late.delete()
    _metric(world["cy"], "lesson_started", _at(3, 16))
    engagement.rollup()
    assert _learner_day(world["cy"], 3) == (1, 1, 0, 0, 1, 0)
    EngagementMetric.objects.create(
        id=late_id,
        learner=world["cy"],
        event_type="channel_changed",
        channel="email",
        recorded_at=_at(3, 15),
    )
    # when the next rollup runs: it rescans the previous run's id range too
    engagement.rollup()
    # then
    assert _learner_day(world["cy"], 3) == (1, 1, 0, 0, 1, 1)


def test_a_cohort_that_lost_its_members_loses_its_day(world):
    engagement.rollup()
    # Cy moves from York to Leeds, then another event of the 3rd arrives
    world["cy"].store = world["leeds"]
    world["cy"].save(update_fields=["store"])
    _metric(world["cy"], "assessment_taken", _at(3, 18))
    engagement.rollup()
    assert not CohortEngagementDay.objects.filter(cohort=world["york"]).exists()
    assert _cohort_day(world["leeds"], 3) == (1, 1, 0, 1)


def test_the_rollup_task_runs_as_a_tracked_job(world):
    engagement_rollup_task.delay()
    run = JobRun.objects.get(name="analytics.engagement.rollup")
    assert run.status == JobRun.Status.SUCCEEDED
    assert run.counts["metrics_scanned"] == 7
    assert run.counts["learner_days"] == 3 and run.counts["cohort_days"] == 4
    assert run.counts["first_day"] == "2026-03-02" and run.counts["last_day"] == "2026-03-03"
    assert EtlCheckpoint.objects.get(name="engagement.rollup").parameters["last_id"] == (
        EngagementMetric.objects.order_by("-id").first().pk
    )


def test_beat_runs_the_rollup_every_six_hours():
    entry = settings.CELERY_BEAT_SCHEDULE["analytics-engagement-rollup"]
    assert entry["task"] == "analytics.engagement.rollup"
    schedule = entry["schedule"]
    assert schedule.hour == {0, 6, 12, 18}
    assert schedule.minute == {0}


def test_rebuild_command_recomputes_a_range_and_drops_stale_rows(world):
    # given a rollup, then a bogus learner day and a deleted metric inside the range
    engagement.rollup()
    LearnerEngagementDay.objects.create(
        learner=world["ben"], day=datetime.date(2026, 3, 3), lessons_sent=9
    )
    EngagementMetric.objects.filter(learner=world["cy"], event_type="reminder_sent").delete()
    # when
    call_command("rebuild_engagement", "--since", "2026-03-01", "--until", "2026-03-03")
    # then
    assert not LearnerEngagementDay.objects.filter(learner=world["ben"], day="2026-03-03").exists()
    assert _learner_day(world["cy"], 3) == (1, 0, 0, 0, 0, 0)
    assert _cohort_day(world["york"], 3) == (1, 1, 0, 0)
    assert _cohort_day(world["leeds"], 2) == (2, 2, 1, 0)
    run = JobRun.objects.get(name="analytics.engagement.rebuild")
    assert run.status == JobRun.Status.SUCCEEDED and run.counts["days"] == 3


def test_rebuild_command_refuses_bad_dates():
    with pytest.raises(CommandError):
        call_command("rebuild_engagement", "--since", "2026-03-05", "--until", "2026-03-01")
    with pytest.raises(CommandError):
        call_command("rebuild_engagement", "--since", "March")


# --- admin --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model", ["engagementmetric", "learnerengagementday", "cohortengagementday"]
)
def test_engagement_admin_lists_filter_and_search_read_only(
    client, django_user_model, world, model
):
    engagement.rollup()
    admin = django_user_model.objects.create_superuser("root", "root@x.test", "pw-123456789")
    client.force_login(admin)
    url = f"/admin/analytics/{model}/"
    assert client.get(url).status_code == 200
    assert client.get(url, {"q": "Leeds" if model.startswith("cohort") else "x"}).status_code == 200
    assert client.get(f"{url}add/").status_code == 403
