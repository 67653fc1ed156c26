"""Frontline's learning events become xAPI statements in the same store, once each."""

import uuid

import pytest
from django.utils import timezone

from analytics import handlers
from analytics.models import Statement
from core.outbox import dispatch_event, handlers_for, publish_event

pytestmark = pytest.mark.django_db

HANDLER = {
    "assessment.answered": "analytics.handlers.on_assessment_answered",
    "lesson.completed": "analytics.handlers.on_lesson_completed",
    "path.completed": "analytics.handlers.on_path_completed",
    "lesson.delivered": "analytics.handlers.on_lesson_delivered",
}


def _event(topic, payload):
    return publish_event(topic, payload)


@pytest.mark.parametrize("topic", sorted(HANDLER))
def test_each_learning_topic_has_a_subscribed_handler(topic):
    assert HANDLER[topic] in handlers_for(topic)


def test_an_answer_is_recorded_with_its_result():
    # given an assessment.answered event as the learning core publishes it
    event = _event(
        "assessment.answered",
        {
            "result_id": 7,
            "learner_id": 42,
            "microlesson_id": 9,
            "topic": "returns",
            "answer": 2,
            "is_correct": True,
            "counted": True,
            "is_review": False,
            "time_taken_seconds": 12.5,
            "channel": "slack",
            "attempted_at": timezone.now().isoformat(),
        },
    )
    # when its handler runs
    dispatch_event(event_pk=event.pk, handler=HANDLER["assessment.answered"])
    # then one statement with the answer, keyed by the event
    statement = Statement.objects.get(pk=handlers.statement_id_for(event))
    assert statement.verb_id == "http://adlnet.gov/expapi/verbs/answered"
    assert statement.data["result"] == {"success": True, "response": "2", "duration": "PT12.500S"}
    assert statement.actor_key.endswith("|learner:42")
    assert statement.data["authority"]["account"]["name"] == "frontline"
    parent = statement.data["context"]["contextActivities"]["parent"][0]["id"]
    assert parent.endswith("/xapi/activities/lessons/9")


def test_a_redelivered_event_records_nothing_more():
    event = _event(
        "lesson.completed",
        {
            "learner_id": 1,
            "microlesson_id": 3,
            "topic": "tills",
            "channel": "sms",
            "completed_at": timezone.now().isoformat(),
        },
    )
    handlers.on_lesson_completed(event)
    # the handler itself runs again (e.g. the ProcessedEvent row was lost): same id, same content
    handlers.on_lesson_completed(event)
    assert Statement.objects.count() == 1
    assert Statement.objects.get().data["result"] == {"completion": True}


def test_path_completion_carries_a_registration_per_path():
    event = _event(
        "path.completed",
        {
            "learning_path_id": 5,
            "learner_id": 1,
            "template": "onboarding",
            "completed_at": timezone.now().isoformat(),
        },
    )
    handlers.on_path_completed(event)
    statement = Statement.objects.get()
    assert statement.object_id.endswith("/xapi/activities/paths/5")
    assert statement.registration == uuid.uuid5(handlers._NAMESPACE, "learning_path:5")


def test_delivery_is_recorded_as_received():
    # given the payload delivery publishes
    payload = {
        "task_id": 11,
        "learner_id": 1,
        "kind": "lesson",
        "channel": "email",
        "microlesson_id": 3,
        "local_date": "2026-11-22",
    }
    event = _event("lesson.delivered", payload)
    # when
    handlers.on_lesson_delivered(event)
    # then the statement's time is the event's (so a redelivery is identical)
    statement = Statement.objects.get()
    assert statement.verb_id == "http://activitystrea.ms/schema/1.0/receive"
    assert statement.timestamp == event.created_at


def test_through_the_real_outbox_each_event_is_recorded_once(django_capture_on_commit_callbacks):
    # given a lesson.completed event published in a transaction
    payload = {
        "learner_id": 2,
        "microlesson_id": 4,
        "topic": "tills",
        "channel": "slack",
        "completed_at": timezone.now().isoformat(),
    }
    with django_capture_on_commit_callbacks(execute=True):
        event = publish_event("lesson.completed", payload)
    # then the outbox published it and analytics' handler recorded it
    assert Statement.objects.filter(pk=handlers.statement_id_for(event)).count() == 1
    # and dispatching it again records nothing more
    assert dispatch_event(event_pk=event.pk, handler=HANDLER["lesson.completed"]) is False
    assert Statement.objects.count() == 1
