"""The reporting API: every report's figures against hand-computed data, JSON and CSV,
permissions, parameter errors and paging."""

import csv
import datetime
import io
import math
import statistics
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from analytics.models import CohortEngagementDay, EngagementMetric, Statement, StatementFlat
from analytics.reporting import get_report, render_csv
from assessments.models import AssessmentResult
from delivery.models import DeliveryAttempt, DeliveryTask
from tests.learners.factories import CohortFactory, LearnerFactory
from tests.lessons.factories import LearningPathFactory, MicrolessonFactory, TopicFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
BASE = "/api/v1/reports/"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
RECEIVED = "http://activitystrea.ms/schema/1.0/receive"
ANSWERED = "http://adlnet.gov/expapi/verbs/answered"


def at(day: int, hour: int = 9, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def lesson_iri(lesson) -> str:
    return f"{settings.XAPI_BASE_IRI}/xapi/activities/lessons/{lesson.pk}"


def statement(actor, verb, object_id, when, *, voided=False):
    """A stored statement and its flattened row (what the ETL writes)."""
    if not isinstance(actor, str):
        actor = f"account:{settings.XAPI_BASE_IRI}|learner:{actor.pk}"
    if not isinstance(object_id, str):
        object_id = lesson_iri(object_id)
    fields = {
        "actor_key": actor,
        "verb_id": verb,
        "object_type": "Activity",
        "object_id": object_id,
        "timestamp": when,
        "stored": when,
        "voided": voided,
    }
    stored = Statement.objects.create(id=uuid.uuid4(), data={}, **fields)
    return StatementFlat.objects.create(statement=stored, **fields)


@pytest.fixture
def staff(api_client, staff_user):
    """A reports viewer: staff holding the reporting API's read and CSV permissions."""
    from django.contrib.auth.models import Permission

    staff_user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="analytics", codename__in=["view_reports", "export_reports"]
        )
    )
    api_client.force_authenticate(type(staff_user).objects.get(pk=staff_user.pk))
    return api_client


def get(client, name, **params):
    response = client.get(f"{BASE}{name}/", params)
    assert response.status_code == 200, response.content
    return response.json()


def rows(body):
    return body["results"]


# --- the completion world -----------------------------------------------------------------


@pytest.fixture
def world():
    """Leeds (Ana, Ben, Dee) and York (Cy), all in the North region; lessons L1 and L2 on
    returns, L3 on tills."""
    north = CohortFactory(kind="region", name="North")
    leeds = CohortFactory(kind="store", name="Leeds")
    york = CohortFactory(kind="store", name="York")
    ana = LearnerFactory(first_name="Ana", last_name="Adams", store=leeds, region=north)
    ben = LearnerFactory(first_name="Ben", last_name="Brown", store=leeds, region=north)
    dee = LearnerFactory(first_name="Dee", last_name="Dent", store=leeds, region=north)
    cy = LearnerFactory(first_name="Cy", last_name="Cole", store=york, region=north)
    returns = TopicFactory(slug="returns")
    tills = TopicFactory(slug="tills")
    l1 = MicrolessonFactory(topic=returns, title="Receipts")
    l2 = MicrolessonFactory(topic=returns, title="Refund limits")
    l3 = MicrolessonFactory(topic=tills, title="Opening the till")
    # Ana: L1 twice (counted once), L2, L3.  Ben: L1.  Dee: only a voided completion of L1.
    # Cy (York): L1.  A third-party LMS completion by e-mail identity is not a learner's.
    statement(ana, COMPLETED, l1, at(2))
    statement(ana, COMPLETED, l1, at(4))
    statement(ana, COMPLETED, l2, at(3))
    statement(ana, COMPLETED, l3, at(5))
    statement(ben, COMPLETED, l1, at(6))
    statement(dee, COMPLETED, l1, at(2), voided=True)
    statement(cy, COMPLETED, l1, at(2))
    statement("mbox:mailto:ana@frontline.test", COMPLETED, l1, at(2))
    # Deliveries of L1: Ana, Dee, Cy received it; answers do not count as completions.
    for learner in (ana, dee, cy):
        statement(learner, RECEIVED, l1, at(1, 8))
    statement(dee, ANSWERED, f"{lesson_iri(l1)}/question", at(2))
    return locals()


def test_cohort_completions_lists_who_completed_what_and_when(staff, world):
    body = get(staff, "cohort-completions", cohort=world["leeds"].pk)
    assert [(r["first_name"], r["lessons_completed"]) for r in rows(body)] == [
        ("Ana", 3),
        ("Ben", 1),
    ]
    ana = rows(body)[0]
    assert ana["learner_id"] == world["ana"].pk
    assert ana["employee_id"] == world["ana"].employee_id
    assert ana["first_completed_at"].startswith("2026-03-02T09:00:00")
    assert ana["last_completed_at"].startswith("2026-03-05T09:00:00")
    assert body["summary"] == {
        "learners_in_cohort": 3,
        "learners_completed": 2,
        "completion_rate": 0.6667,
    }
    assert body["count"] == 2
    assert body["parameters"]["cohort"] == {"id": world["leeds"].pk, "name": "Store: Leeds"}
    assert [c["key"] for c in body["columns"]][:2] == ["learner_id", "employee_id"]


def test_cohort_completions_of_a_region_a_lesson_a_topic_and_a_window(staff, world):
    region = get(staff, "cohort-completions", cohort=world["north"].pk)
    assert [r["first_name"] for r in rows(region)] == ["Ana", "Ben", "Cy"]

    lesson = get(staff, "cohort-completions", cohort=world["leeds"].pk, lesson=world["l2"].pk)
    assert [(r["first_name"], r["lessons_completed"]) for r in rows(lesson)] == [("Ana", 1)]

    topic = get(staff, "cohort-completions", cohort=world["leeds"].pk, topic="returns")
    assert [(r["first_name"], r["lessons_completed"]) for r in rows(topic)] == [
        ("Ana", 2),
        ("Ben", 1),
    ]

    window = get(
        staff,
        "cohort-completions",
        cohort=world["leeds"].pk,
        since="2026-03-03",
        until="2026-03-05",
    )
    [ana] = rows(window)
    assert ana["lessons_completed"] == 3  # L1 again on the 4th, L2 on the 3rd, L3 on the 5th
    assert ana["first_completed_at"].startswith("2026-03-03")
    assert window["summary"]["learners_completed"] == 1


def test_lesson_incomplete_lists_learners_without_a_completion(staff, world):
    body = get(staff, "lesson-incomplete", lesson=world["l1"].pk)
    # Dee's only completion was voided; answering is not completing
    assert [r["first_name"] for r in rows(body)] == ["Dee"]
    [dee] = rows(body)
    assert dee["received_at"].startswith("2026-03-01T08:00:00")
    assert dee["email"] == world["dee"].email
    assert body["summary"] == {
        "learners_in_scope": 4,
        "learners_completed": 3,
        "learners_not_completed": 1,
    }


def test_lesson_incomplete_in_a_cohort_and_among_those_who_received_it(staff, world):
    everyone = get(staff, "lesson-incomplete", lesson=world["l2"].pk)
    assert [r["first_name"] for r in rows(everyone)] == ["Ben", "Cy", "Dee"]
    assert all(r["received_at"] is None for r in rows(everyone))

    york = get(staff, "lesson-incomplete", lesson=world["l2"].pk, cohort=world["york"].pk)
    assert [r["first_name"] for r in rows(york)] == ["Cy"]

    received = get(staff, "lesson-incomplete", lesson=world["l1"].pk, received_only="true")
    assert [r["first_name"] for r in rows(received)] == ["Dee"]
    assert received["summary"]["learners_in_scope"] == 3  # Ana, Dee and Cy received it


def test_lesson_incomplete_pages_json(staff, world):
    first = get(staff, "lesson-incomplete", lesson=world["l3"].pk, page_size=2)
    assert first["count"] == 3
    assert [r["first_name"] for r in rows(first)] == ["Ben", "Cy"]
    assert first["previous"] is None and "page=2" in first["next"]
    second = staff.get(first["next"]).json()
    assert [r["first_name"] for r in rows(second)] == ["Dee"]
    assert second["next"] is None
    assert (
        staff.get(f"{BASE}lesson-incomplete/", {"lesson": world["l3"].pk, "page": 9}).status_code
        == 404
    )


def test_learner_progress_per_learner(staff, world):
    from lessons.models import LearningPath

    ana, ben = world["ana"], world["ben"]
    LearningPathFactory(
        learner=ana,
        status=LearningPath.Status.COMPLETED,
        completed_at=at(5),
        completion_percentage=100,
    )
    LearningPathFactory(
        learner=ana, status=LearningPath.Status.IN_PROGRESS, completion_percentage=50
    )
    LearningPathFactory(learner=ben, completion_percentage=0)
    # Ana: 3 scored answers (2 right) and a repeat that is not scored
    for lesson, correct in ((world["l1"], True), (world["l2"], True), (world["l3"], False)):
        AssessmentResult.objects.create(
            learner=ana, microlesson=lesson, user_answer=0 if correct else 1, is_correct=correct
        )
    AssessmentResult.objects.create(
        learner=ana, microlesson=world["l3"], user_answer=0, is_correct=True, counted=False
    )
    statement(ana, ANSWERED, f"{lesson_iri(world['l3'])}/question", at(7, 12))

    body = get(staff, "learner-progress", cohort=world["leeds"].pk)
    by_name = {r["first_name"]: r for r in rows(body)}
    assert list(by_name) == ["Ana", "Ben", "Dee"]
    assert by_name["Ana"] == {
        "learner_id": ana.pk,
        "employee_id": ana.employee_id,
        "first_name": "Ana",
        "last_name": "Adams",
        "store": "Leeds",
        "paths": 2,
        "paths_completed": 1,
        "path_completion_percentage": 75.0,
        "lessons_completed": 3,
        "answers": 3,
        "correct_answers": 2,
        "correct_share": 0.6667,
        "last_activity_at": "2026-03-07T12:00:00Z",
    }
    assert (by_name["Ben"]["paths"], by_name["Ben"]["lessons_completed"]) == (1, 1)
    dee = by_name["Dee"]
    assert (dee["paths"], dee["lessons_completed"], dee["answers"]) == (0, 0, 0)
    assert dee["correct_share"] is None and dee["path_completion_percentage"] is None
    assert body["summary"] == {"learners": 3}

    one = get(staff, "learner-progress", learner=ben.pk)
    assert [r["first_name"] for r in rows(one)] == ["Ben"]


# --- delivery health ----------------------------------------------------------------------


def _task(learner, *, state, channel, created, delivered=None, day=None):
    return DeliveryTask.objects.create(
        learner=learner,
        state=state,
        channel=channel,
        local_date=day or created.date(),
        created_at=created,
        delivered_at=delivered,
    )


def _attempt(task, number, status, *, created, category="", reason=""):
    attempt = DeliveryAttempt.objects.create(
        task=task,
        number=number,
        channel=task.channel,
        status=status,
        error_category=category,
        error_reason=reason,
    )
    DeliveryAttempt.objects.filter(pk=attempt.pk).update(created_at=created)


@pytest.fixture
def deliveries():
    learners = [LearnerFactory() for _ in range(5)]
    # 2 March, slack: two delivered (60 s and 120 s), one failed after a rate limit retry.
    t1 = _task(
        learners[0], state="delivered", channel="slack", created=at(2), delivered=at(2, 9, 1)
    )
    t2 = _task(
        learners[1], state="delivered", channel="slack", created=at(2), delivered=at(2, 9, 2)
    )
    t3 = _task(learners[2], state="failed", channel="slack", created=at(2))
    _attempt(t1, 1, "delivered", created=at(2))
    _attempt(t2, 1, "delivered", created=at(2))
    _attempt(t3, 1, "failed", created=at(2), category="temporary", reason="rate_limited")
    _attempt(t3, 2, "failed", created=at(2, 10), category="permanent", reason="invalid_auth")
    # 2 March, sms: one dead-lettered after three timeouts.
    t4 = _task(learners[3], state="dead_lettered", channel="sms", created=at(2))
    for number in (1, 2, 3):
        _attempt(
            t4, number, "failed", created=at(2, 9 + number), category="temporary", reason="timeout"
        )
    # 4 March, slack: one delivered in 30 s.  10 March: outside the window.
    t5 = _task(
        learners[4],
        state="delivered",
        channel="slack",
        created=at(4),
        delivered=at(4, 9, 0) + datetime.timedelta(seconds=30),
    )
    _attempt(t5, 1, "delivered", created=at(4))
    t6 = _task(
        learners[0], state="delivered", channel="slack", created=at(10), delivered=at(10, 10)
    )
    _attempt(t6, 1, "delivered", created=at(10))


def test_delivery_health_per_day_and_channel(staff, deliveries):
    body = get(staff, "delivery-health", since="2026-03-01", until="2026-03-07")
    got = {(r["period"], r["channel"]): r for r in rows(body)}
    assert list(got) == [("2026-03-02", "slack"), ("2026-03-02", "sms"), ("2026-03-04", "slack")]
    slack = got[("2026-03-02", "slack")]
    assert (slack["tasks"], slack["delivered"], slack["failed"], slack["dead_lettered"]) == (
        3,
        2,
        1,
        0,
    )
    assert slack["success_rate"] == 0.6667
    assert slack["average_delivery_seconds"] == 90.0
    assert (slack["attempts"], slack["retries"], slack["retry_frequency"]) == (4, 1, 0.3333)
    assert (slack["temporary_errors"], slack["permanent_errors"]) == (1, 1)
    sms = got[("2026-03-02", "sms")]
    assert (sms["success_rate"], sms["average_delivery_seconds"]) == (0.0, None)
    assert (sms["attempts"], sms["retries"], sms["retry_frequency"]) == (3, 2, 2.0)
    # the whole window: 3 of 5 finished tasks delivered, (60 + 120 + 30) / 3 s, 3 retries
    summary = body["summary"]
    assert (summary["tasks"], summary["delivered"]) == (5, 3)
    assert summary["success_rate"] == 0.6
    assert summary["average_delivery_seconds"] == 70.0
    assert (summary["retries"], summary["retry_frequency"]) == (3, 0.6)


def test_delivery_health_per_week_for_one_channel(staff, deliveries):
    body = get(
        staff,
        "delivery-health",
        since="2026-03-01",
        until="2026-03-14",
        granularity="week",
        channel="slack",
    )
    # ISO weeks start on Monday: 23 Feb (1 March is a Sunday), 2 March, 9 March
    assert [(r["period"], r["tasks"], r["delivered"]) for r in rows(body)] == [
        ("2026-03-02", 4, 3),
        ("2026-03-09", 1, 1),
    ]
    assert rows(body)[0]["average_delivery_seconds"] == 70.0


def test_delivery_health_error_distribution(staff, deliveries):
    body = get(staff, "delivery-health", since="2026-03-01", until="2026-03-07", view="errors")
    assert [c["key"] for c in body["columns"]] == [
        "period",
        "channel",
        "category",
        "reason",
        "count",
        "share_of_attempts",
    ]
    assert [
        (r["channel"], r["category"], r["reason"], r["count"], r["share_of_attempts"])
        for r in rows(body)
    ] == [
        ("slack", "permanent", "invalid_auth", 1, 0.25),
        ("slack", "temporary", "rate_limited", 1, 0.25),
        ("sms", "temporary", "timeout", 3, 1.0),
    ]
    assert body["summary"]["errors_by_category"] == {"permanent": 1, "temporary": 4}


def test_delivery_health_defaults_to_the_last_seven_days(staff):
    body = get(staff, "delivery-health")
    since = datetime.date.fromisoformat(body["parameters"]["since"])
    until = datetime.date.fromisoformat(body["parameters"]["until"])
    assert (until - since).days == 6 and until == datetime.datetime.now(UTC).date()
    assert body["count"] == 0 and body["summary"]["success_rate"] is None


def test_delivery_health_caches_days_that_are_over_and_reads_recent_ones_live(staff):
    # given a delivered task today and one ten days ago
    today = datetime.datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    old_day = today - datetime.timedelta(days=10)
    window = {"since": old_day.date().isoformat(), "until": today.date().isoformat()}
    for created in (old_day, today):
        task = _task(LearnerFactory(), state="delivered", channel="email", created=created)
        _attempt(task, 1, "delivered", created=created)
    first = {r["period"]: r["delivered"] for r in rows(get(staff, "delivery-health", **window))}
    assert first == {old_day.date().isoformat(): 1, today.date().isoformat(): 1}
    # when both tasks turn out failed
    DeliveryTask.objects.update(state="failed")
    # then today's figures follow at once, the closed day's within the cache's hour
    again = {r["period"]: r["delivered"] for r in rows(get(staff, "delivery-health", **window))}
    assert again == {old_day.date().isoformat(): 1, today.date().isoformat(): 0}
    cache.clear()
    fresh = {r["period"]: r["failed"] for r in rows(get(staff, "delivery-health", **window))}
    assert fresh == {old_day.date().isoformat(): 1, today.date().isoformat(): 1}


# --- engagement ---------------------------------------------------------------------------


def test_engagement_over_time_from_the_rollups(staff, world):
    from analytics import engagement

    def metric(learner, event_type, when):
        EngagementMetric.objects.create(learner=learner, event_type=event_type, recorded_at=when)

    # 2 March: Ana and Ben (Leeds) each sent a lesson, Ana completed it; 4 March: Cy (York)
    # sent one, completed it; Ana got a reminder.
    metric(world["ana"], "lesson_sent", at(2))
    metric(world["ana"], "lesson_completed", at(2, 10))
    metric(world["ben"], "lesson_sent", at(2))
    metric(world["cy"], "lesson_sent", at(4))
    metric(world["cy"], "lesson_completed", at(4, 12))
    metric(world["ana"], "reminder_sent", at(4, 18))
    engagement.rollup()

    daily = get(staff, "engagement", since="2026-03-01", until="2026-03-07")
    assert [
        (r["period"], r["cohort"], r["active_learners"], r["lessons_sent"], r["lessons_completed"])
        for r in rows(daily)
    ] == [
        ("2026-03-02", "North", 2.0, 2, 1),
        ("2026-03-04", "North", 2.0, 1, 1),
    ]
    assert rows(daily)[0]["completion_rate"] == 0.5
    assert rows(daily)[1]["reminders_sent"] == 1

    stores = get(staff, "engagement", since="2026-03-01", until="2026-03-07", cohort_kind="store")
    assert [(r["period"], r["cohort"], r["active_learners"]) for r in rows(stores)] == [
        ("2026-03-02", "Leeds", 2.0),
        ("2026-03-04", "Leeds", 1.0),
        ("2026-03-04", "York", 1.0),
    ]

    # the week of 2 March (window cut at the 7th: 6 days): 4 learner-days / 6
    weekly = get(
        staff,
        "engagement",
        since="2026-03-02",
        until="2026-03-07",
        granularity="week",
        cohort=world["leeds"].pk,
    )
    [week] = rows(weekly)
    assert (week["period"], week["learner_days"], week["active_learners"]) == ("2026-03-02", 3, 0.5)
    assert (week["lessons_sent"], week["lessons_completed"], week["reminders_sent"]) == (2, 1, 1)
    assert weekly["summary"]["lessons_sent"] == 2 and weekly["summary"]["completion_rate"] == 0.5

    monthly = get(staff, "engagement", since="2026-02-20", until="2026-03-31", granularity="month")
    assert [(r["period"], r["lessons_sent"]) for r in rows(monthly)] == [("2026-03-01", 3)]
    assert rows(monthly)[0]["active_learners"] == round(4 / 31, 2)
    assert CohortEngagementDay.objects.count() == 5


# --- item analysis ------------------------------------------------------------------------


KEYS = (1, 1, 1, 1, 1, 0)


@pytest.fixture
def quiz():
    """Eight learners, strongest first, answer six questions of the 'tills' topic.

    Q1..Q5 are sound: learner i gets Qj right when i < its difficulty (2, 3, 4, 5, 6), so
    strong learners are right more often; wrong answers spread over the wrong options.
    Q6's key is option 1 but only the three weakest pick it; the others pick option 3 (a
    wrong key): it discriminates negatively and a wrong option beats the answer.
    """
    topic = TopicFactory(slug="tills")
    four = ["Count", "Lock", "Sign", "Wait"]
    questions = [
        MicrolessonFactory(topic=topic, title=f"Q{n}", quiz_options=four, correct_answer=1)
        for n in range(1, 6)
    ]
    questions.append(
        MicrolessonFactory(topic=topic, title="Q6", quiz_options=four[:3], correct_answer=0)
    )
    other = MicrolessonFactory(topic=TopicFactory(slug="returns"), title="Elsewhere")
    learners = [LearnerFactory() for _ in range(8)]
    answers = {}
    for i in range(8):
        chosen = [1 if i < difficulty else (2 + i % 3) % 4 for difficulty in (2, 3, 4, 5, 6)]
        chosen.append(0 if i >= 5 else 2)
        answers[i] = tuple(chosen)
        for lesson, option in zip(questions, chosen, strict=True):
            AssessmentResult.objects.create(
                learner=learners[i],
                microlesson=lesson,
                user_answer=option,
                is_correct=option == lesson.correct_answer,
                attempted_at=at(3),
            )
    # not counted: a repeat, and an answer in another topic
    AssessmentResult.objects.create(
        learner=learners[7],
        microlesson=questions[5],
        user_answer=2,
        is_correct=False,
        counted=False,
    )
    AssessmentResult.objects.create(
        learner=learners[7], microlesson=other, user_answer=0, is_correct=True
    )
    return {"topic": topic, "questions": questions, "answers": answers}


def expected_discrimination(answers, item, keys=KEYS):
    """Pearson's r between being right on `item` and the share right on the others."""
    right, rest = [], []
    for chosen in answers.values():
        marks = [int(option == key) for option, key in zip(chosen, keys, strict=True)]
        others = marks[:item] + marks[item + 1 :]
        right.append(marks[item])
        rest.append(sum(others) / len(others))
    return statistics.correlation(right, rest)


def test_item_analysis_of_a_topic(staff, quiz):
    body = get(staff, "item-analysis", topic="tills", min_answers=8)
    got = {r["lesson"]: r for r in rows(body)}
    assert set(got) == {"Q1", "Q2", "Q3", "Q4", "Q5", "Q6"}
    # the broken question comes first
    assert rows(body)[0]["lesson"] == "Q6"
    q1 = got["Q1"]
    assert (q1["answers"], q1["correct_share"], q1["correct_option"]) == (8, 0.25, 2)
    # right: learners 0, 1; wrong: 2..7 choose options 1, 3, 4, 1, 3, 4
    assert [q1[f"option_{n}"] for n in (1, 2, 3, 4)] == [2, 2, 2, 2]
    assert (q1["top_wrong_option"], q1["top_wrong_share"]) == (1, 0.25)  # a tie: the first
    q6 = got["Q6"]
    assert [q6[f"option_{n}"] for n in (1, 2, 3, 4)] == [3, 0, 5, None]
    assert (q6["correct_share"], q6["top_wrong_option"], q6["top_wrong_share"]) == (0.375, 3, 0.625)
    for item in range(6):
        expected = expected_discrimination(quiz["answers"], item)
        assert math.isclose(got[f"Q{item + 1}"]["discrimination"], expected, abs_tol=1e-4)
    assert q6["discrimination"] < 0
    assert q6["flags"] == (
        "wrong option 3 chosen more often than the answer; negative discrimination"
    )
    for name in ("Q1", "Q2", "Q3", "Q4", "Q5"):
        assert got[name]["discrimination"] >= 0.2 and got[name]["flags"] == "", name
    assert body["summary"]["questions"] == 6 and body["summary"]["answers"] == 48
    assert body["summary"]["questions_judged"] == 6
    assert body["summary"]["questions_flagged"] == 1


def test_item_analysis_flags_low_discrimination(staff, quiz):
    # given Q2 loses its pattern: the strongest learner now gets it wrong, the weakest right
    q2 = quiz["questions"][1]
    answers = {i: list(chosen) for i, chosen in quiz["answers"].items()}
    answers[0][1], answers[7][1] = 3, 1
    results = AssessmentResult.objects.filter(microlesson=q2).order_by("learner_id")
    for index, result in enumerate(results):
        result.user_answer = answers[index][1]
        result.is_correct = result.user_answer == 1
        result.save(update_fields=["user_answer", "is_correct"])
    # when
    [row] = rows(get(staff, "item-analysis", lesson=q2.pk, min_answers=8))
    # then
    expected = expected_discrimination(answers, 1)
    assert 0 <= expected < 0.2
    assert math.isclose(row["discrimination"], expected, abs_tol=1e-4)
    assert row["flags"] == "low discrimination"


def test_item_analysis_flags_a_wrong_option_chosen_more_than_the_key(staff):
    topic = TopicFactory(slug="safety")
    lesson = MicrolessonFactory(topic=topic, quiz_options=["A", "B", "C"], correct_answer=0)
    for option in (0, 1, 1, 2):
        AssessmentResult.objects.create(
            learner=LearnerFactory(), microlesson=lesson, user_answer=option, is_correct=option == 0
        )
    [row] = rows(get(staff, "item-analysis", lesson=lesson.pk, min_answers=4))
    assert row["flags"] == "wrong option 2 chosen more often than the answer"
    assert row["discrimination"] is None  # nobody answered anything else in the topic
    assert (row["top_wrong_option"], row["top_wrong_share"]) == (2, 0.5)


def test_item_analysis_does_not_judge_questions_with_few_answers(staff, quiz):
    body = get(staff, "item-analysis", topic="tills")
    assert {r["flags"] for r in rows(body)} == {"fewer than 30 answers"}
    assert body["summary"]["questions_judged"] == 0 and body["summary"]["questions_flagged"] == 0


def test_item_analysis_of_one_lesson_is_scored_within_its_topic(staff, quiz):
    q6 = quiz["questions"][5]
    [row] = rows(get(staff, "item-analysis", lesson=q6.pk, min_answers=8))
    expected = expected_discrimination(quiz["answers"], 5)
    assert row["lesson_id"] == q6.pk and math.isclose(row["discrimination"], expected, abs_tol=1e-4)
    empty = get(staff, "item-analysis", topic="tills", since="2026-03-04")
    assert rows(empty) == []


# --- CSV ----------------------------------------------------------------------------------


def _csv(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_csv_has_every_row_under_a_header_of_labels(staff, world):
    response = staff.get(
        f"{BASE}lesson-incomplete/", {"lesson": world["l3"].pk, "format": "csv", "page_size": 1}
    )
    assert response["Content-Disposition"].startswith('attachment; filename="lesson-incomplete-')
    assert response["Content-Disposition"].endswith('.csv"')
    table = _csv(response)
    assert table[0] == [
        "Learner id",
        "Employee id",
        "First name",
        "Last name",
        "Email",
        "Preferred channel",
        "Received at",
    ]
    assert [row[2] for row in table[1:]] == ["Ben", "Cy", "Dee"]  # no paging in CSV
    assert table[1][0] == str(world["ben"].pk) and table[1][6] == ""


def test_csv_guards_against_formula_injection(staff):
    store = CohortFactory(name="Leeds")
    for last_name in ('=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "Plain"):
        LearnerFactory(first_name="X", last_name=last_name, store=store)
    table = _csv(staff.get(f"{BASE}learner-progress/", {"cohort": store.pk, "format": "csv"}))
    assert sorted(row[3] for row in table[1:]) == sorted(
        ['\'=HYPERLINK("http://x")', "'+1+1", "'-2", "'@SUM(A1)", "Plain"]
    )
    # numbers are numbers, not guarded text
    assert {row[5] for row in table[1:]} == {"0"}


def test_csv_through_the_registry_as_scheduled_reports_use_it(world):
    report = get_report("cohort-completions")
    table = report.run(report.clean({"cohort": world["leeds"].pk, "lesson": world["l1"].pk}))
    lines = render_csv(table).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Learner id,Employee id,First name")
    assert [line.split(",")[2] for line in lines[1:]] == ["Ana", "Ben"]
    assert table.as_dicts()[1]["lessons_completed"] == 1


def test_accept_header_text_csv_also_gives_csv(staff, world):
    response = staff.get(
        f"{BASE}cohort-completions/", {"cohort": world["york"].pk}, HTTP_ACCEPT="text/csv"
    )
    assert [row[2] for row in _csv(response)[1:]] == ["Cy"]


# --- permissions, parameters, the list ----------------------------------------------------


def test_anonymous_is_401_and_non_staff_403(authed_client):
    anonymous = APIClient()
    for url in (BASE, f"{BASE}delivery-health/", f"{BASE}delivery-health/?format=csv"):
        assert anonymous.get(url).status_code == 401
        assert authed_client.get(url).status_code == 403
    body = authed_client.get(f"{BASE}engagement/?format=csv")
    assert body["Content-Type"] == "application/json" and body.json()["code"] == "permission_denied"


def test_unknown_report_is_404(staff):
    response = staff.get(f"{BASE}no-such-report/")
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_report"


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("cohort-completions", {}, "cohort"),
        ("cohort-completions", {"cohort": "leeds"}, "cohort"),
        ("lesson-incomplete", {}, "lesson"),
        ("lesson-incomplete", {"received_only": "maybe"}, "received_only"),
        ("delivery-health", {"since": "yesterday"}, "since"),
        ("delivery-health", {"granularity": "hour"}, "granularity"),
        ("delivery-health", {"channel": "pigeon"}, "channel"),
        ("engagement", {"cohort_kind": "galaxy"}, "cohort_kind"),
        ("item-analysis", {"topic": "til\x00ls"}, "topic"),
        ("cohort-completions", {"cohort": 1, "topic": "\x00"}, "topic"),
        ("item-analysis", {"topic": "tills", "min_answers": 0}, "min_answers"),
    ],
)
def test_bad_parameters_are_400_with_field_errors(staff, name, params, field):
    TopicFactory(slug="tills")
    response = staff.get(f"{BASE}{name}/", params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and field in body["errors"]


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("cohort-completions", {"cohort": 999_999}, "cohort"),
        ("learner-progress", {"learner": 999_999}, "learner"),
        ("item-analysis", {"topic": "no-such-topic"}, "topic"),
    ],
)
def test_a_well_formed_id_of_nothing_is_a_404_naming_the_parameter(staff, name, params, field):
    response = staff.get(f"{BASE}{name}/", params)
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"
    assert response.json()["details"]["field"] == field


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("delivery-health", {"since": "2026-03-09", "until": "2026-03-01"}, "until"),
        ("delivery-health", {"since": "2024-01-01", "until": "2026-01-01"}, "since"),
        ("item-analysis", {}, "topic"),
    ],
)
def test_parameters_against_a_rule_across_them_are_422(staff, name, params, field):
    response = staff.get(f"{BASE}{name}/", params)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "unprocessable" and field in body["errors"]


def test_parameter_errors_stay_json_when_csv_is_asked_for(staff):
    response = staff.get(f"{BASE}lesson-incomplete/", {"format": "csv"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "lesson" in response.json()["errors"]


def test_a_lesson_and_a_topic_that_disagree_are_refused(staff, world):
    both = staff.get(
        f"{BASE}cohort-completions/",
        {"cohort": world["leeds"].pk, "lesson": world["l1"].pk, "topic": "returns"},
    )
    assert both.status_code == 422 and "topic" in both.json()["errors"]
    mismatch = staff.get(f"{BASE}item-analysis/", {"lesson": world["l3"].pk, "topic": "returns"})
    assert mismatch.status_code == 422 and "lesson" in mismatch.json()["errors"]


def test_the_list_describes_every_report_and_its_parameters(staff):
    body = staff.get(BASE).json()
    names = {report["name"]: report for report in body}
    assert set(names) >= {
        "cohort-completions",
        "lesson-incomplete",
        "learner-progress",
        "delivery-health",
        "engagement",
        "item-analysis",
    }
    cohort = {p["name"]: p for p in names["cohort-completions"]["parameters"]}
    assert cohort["cohort"]["required"] is True and cohort["cohort"]["type"] == "integer"
    health = {p["name"]: p for p in names["delivery-health"]["parameters"]}
    assert health["granularity"]["choices"] == ["day", "week", "month"]
    assert health["granularity"]["default"] == "day"
    assert names["lesson-incomplete"]["paginated"] is True
    assert names["delivery-health"]["formats"] == ["json", "csv"]


def test_openapi_documents_each_report_with_its_parameters(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/reports/cohort-completions/"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["cohort"]["required"] is True
    assert parameters["format"]["schema"]["enum"] == ["csv", "json"]
    assert "text/csv" in operation["responses"]["200"]["content"]
    assert "/api/v1/reports/{name}/" not in schema["paths"]
    assert "/api/v1/reports/" in schema["paths"]


# --- end to end: answers through the outbox, the ETL, then the report -----------------------


def test_a_completion_from_a_real_answer_reaches_the_report(
    staff, django_capture_on_commit_callbacks
):
    from analytics import etl
    from assessments.services import submit_answer
    from core.outbox import publish_pending

    store = CohortFactory(name="Hull")
    learner = LearnerFactory(store=store)
    lesson = MicrolessonFactory(correct_answer=0)
    with django_capture_on_commit_callbacks(execute=True):
        submit_answer(learner=learner, microlesson=lesson, answer=0)
        publish_pending()
    etl.sweep()
    [row] = rows(get(staff, "cohort-completions", cohort=store.pk, lesson=lesson.pk))
    assert row["learner_id"] == learner.pk and row["lessons_completed"] == 1
