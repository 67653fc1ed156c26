"""
Frontline's own learning events recorded as xAPI statements (registered in
AnalyticsConfig.ready()), so one store holds everything.

Each statement's id is uuid5 of the outbox event id, and its timestamp comes from the
payload: a redelivered event stores an identical statement, which the store accepts as the
same one (no duplicate, no conflict).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.conf import settings

from analytics.services import record_statement
from core.outbox import subscribe

logger = logging.getLogger(__name__)

_NAMESPACE = uuid.UUID("1f6f1c44-5d0b-4c36-9a55-6f0e8b7b2d11")

VERBS = {
    "delivered": ("http://activitystrea.ms/schema/1.0/receive", "received"),
    "answered": ("http://adlnet.gov/expapi/verbs/answered", "answered"),
    "completed": ("http://adlnet.gov/expapi/verbs/completed", "completed"),
}
LESSON_TYPE = "http://adlnet.gov/expapi/activities/lesson"
QUESTION_TYPE = "http://adlnet.gov/expapi/activities/cmi.interaction"
PATH_TYPE = "http://adlnet.gov/expapi/activities/course"


def statement_id_for(event) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{event.topic}:{event.event_id}"))


def learner_actor(learner_id: Any) -> dict[str, Any]:
    """Learners are identified by an account on Frontline's home page (no e-mail in the LRS)."""
    from learners.models import Learner

    learner = (
        Learner.objects.filter(pk=learner_id).only("employee_id", "first_name", "last_name").first()
    )
    actor: dict[str, Any] = {
        "objectType": "Agent",
        "account": {"homePage": settings.XAPI_BASE_IRI, "name": f"learner:{learner_id}"},
    }
    if learner is not None:
        actor["name"] = f"{learner.first_name} {learner.last_name}".strip()
    return actor


def lesson_activity(microlesson_id: Any, topic: str | None) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "objectType": "Activity",
        "id": f"{settings.XAPI_BASE_IRI}/xapi/activities/lessons/{microlesson_id}",
        "definition": {"type": LESSON_TYPE},
    }
    if topic:
        activity["definition"]["name"] = {"en": f"Lesson {microlesson_id} ({topic})"}
    return activity


def _context(payload: dict[str, Any], *, topic: str | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"platform": "Frontline"}
    extensions = {}
    if payload.get("channel"):
        extensions[f"{settings.XAPI_BASE_IRI}/xapi/extensions/channel"] = payload["channel"]
    if extensions:
        context["extensions"] = extensions
    if topic:
        context["contextActivities"] = {
            "category": [{"id": f"{settings.XAPI_BASE_IRI}/xapi/activities/topics/{topic}"}]
        }
    return context


def _verb(name: str) -> dict[str, Any]:
    verb_id, display = VERBS[name]
    return {"id": verb_id, "display": {"en-US": display}}


def _timestamp(payload: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        if payload.get(key):
            return payload[key]
    return None


def _record(event, statement: dict[str, Any], *when: str) -> None:
    statement["id"] = statement_id_for(event)
    timestamp = _timestamp(event.payload, *when) or event.created_at.isoformat()
    statement["timestamp"] = timestamp
    record_statement(statement=statement)


@subscribe("lesson.delivered")
def on_lesson_delivered(event) -> None:
    """Delivery's payload: task_id, learner_id, kind, channel, microlesson_id, local_date."""
    payload = event.payload
    if not payload.get("microlesson_id") or not payload.get("learner_id"):
        logger.warning("lesson.delivered without a lesson", extra={"event_id": str(event.event_id)})
        return
    statement = {
        "actor": learner_actor(payload["learner_id"]),
        "verb": _verb("delivered"),
        "object": lesson_activity(payload["microlesson_id"], payload.get("topic")),
        "context": _context(payload, topic=payload.get("topic")),
    }
    _record(event, statement, "delivered_at", "sent_at")


@subscribe("assessment.answered")
def on_assessment_answered(event) -> None:
    payload = event.payload
    result: dict[str, Any] = {
        "success": bool(payload.get("is_correct")),
        "response": str(payload.get("answer", "")),
    }
    seconds = payload.get("time_taken_seconds")
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds >= 0:
        result["duration"] = f"PT{float(seconds):.3f}S"
    lesson = lesson_activity(payload["microlesson_id"], payload.get("topic"))
    question = {
        "objectType": "Activity",
        "id": f"{lesson['id']}/question",
        "definition": {"type": QUESTION_TYPE, "interactionType": "choice"},
    }
    context = _context(payload, topic=payload.get("topic"))
    context.setdefault("contextActivities", {})["parent"] = [{"id": lesson["id"]}]
    extensions = context.setdefault("extensions", {})
    extensions[f"{settings.XAPI_BASE_IRI}/xapi/extensions/counted"] = bool(payload.get("counted"))
    extensions[f"{settings.XAPI_BASE_IRI}/xapi/extensions/review"] = bool(payload.get("is_review"))
    statement = {
        "actor": learner_actor(payload["learner_id"]),
        "verb": _verb("answered"),
        "object": question,
        "result": result,
        "context": context,
    }
    _record(event, statement, "attempted_at")


@subscribe("lesson.completed")
def on_lesson_completed(event) -> None:
    payload = event.payload
    statement = {
        "actor": learner_actor(payload["learner_id"]),
        "verb": _verb("completed"),
        "object": lesson_activity(payload["microlesson_id"], payload.get("topic")),
        "result": {"completion": True},
        "context": _context(payload, topic=payload.get("topic")),
    }
    _record(event, statement, "completed_at")


@subscribe("path.completed")
def on_path_completed(event) -> None:
    payload = event.payload
    path_id = payload["learning_path_id"]
    activity = {
        "objectType": "Activity",
        "id": f"{settings.XAPI_BASE_IRI}/xapi/activities/paths/{path_id}",
        "definition": {"type": PATH_TYPE},
    }
    if payload.get("template"):
        activity["definition"]["name"] = {"en": f"Learning path {payload['template']}"}
    statement = {
        "actor": learner_actor(payload["learner_id"]),
        "verb": _verb("completed"),
        "object": activity,
        "result": {"completion": True},
        "context": {
            "platform": "Frontline",
            # One registration per learning path: its statements can be pulled together.
            "registration": str(uuid.uuid5(_NAMESPACE, f"learning_path:{path_id}")),
        },
    }
    _record(event, statement, "completed_at")
