"""
Completion reports (seed 002 §a.07), read from the flattened xAPI table:

- `cohort-completions`: the learners of a cohort who completed lessons (all lessons, one, or
  a topic's), with how many and when;
- `lesson-incomplete`: the learners who have not completed a lesson (optionally only those
  it was delivered to, optionally within a cohort).

Only Frontline's own lesson activities count, and voided statements never do.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, Max, Min, OuterRef, Subquery
from rest_framework import serializers

from analytics.reporting.base import QueryRows, Report, ReportTable, register
from analytics.reporting.common import (
    LEARNER_COLUMNS,
    RECEIVED,
    DateRangeParameters,
    cohort_field,
    describe,
    learner_actor_key,
    learner_ids,
    learners_in,
    lesson_completions,
    lesson_field,
    lesson_iri,
    live_statements,
    share,
    topic_field,
)
from core.api.exceptions import rule_violation
from learners.models import Learner


def _per_learner(statements, aggregate):
    """Correlated subquery: `aggregate` over the learner's rows of `statements`."""
    return Subquery(
        statements.filter(actor_key=OuterRef("actor_key"))
        .order_by()
        .values("actor_key")
        .annotate(value=aggregate)
        .values("value")
    )


@register
class CohortCompletionsReport(Report):
    name = "cohort-completions"
    title = "Cohort completions"
    description = (
        "Learners of a cohort who completed lessons: all lessons, one lesson or a topic's, "
        "optionally within a date range, with how many distinct lessons and when."
    )
    paginated = True
    columns = [
        *LEARNER_COLUMNS,
        ("lessons_completed", "Lessons completed"),
        ("first_completed_at", "First completed at"),
        ("last_completed_at", "Last completed at"),
    ]

    class Parameters(DateRangeParameters):
        cohort = cohort_field()
        lesson = lesson_field(required=False, help_text="Only this microlesson (id).")
        topic = topic_field(required=False, help_text="Only lessons of this topic (slug).")

        def validate(self, data: dict[str, Any]) -> dict[str, Any]:
            data = super().validate(data)
            if data.get("lesson") and data.get("topic"):
                raise rule_violation({"topic": "Give a lesson or a topic, not both."})
            return data

    def run(self, params: dict[str, Any]) -> ReportTable:
        cohort, lesson, topic = params["cohort"], params.get("lesson"), params.get("topic")
        completions = lesson_completions(
            lesson_id=lesson.pk if lesson else None,
            topic_id=topic.pk if topic else None,
            since=params.get("since"),
            until=params.get("until"),
        )
        members = learners_in(cohort)
        completers = members.annotate(actor_key=learner_actor_key()).filter(
            Exists(completions.filter(actor_key=OuterRef("actor_key")))
        )
        learners = completers.annotate(
            lessons_completed=_per_learner(completions, Count("object_id", distinct=True)),
            first_completed_at=_per_learner(completions, Min("timestamp")),
            last_completed_at=_per_learner(completions, Max("timestamp")),
        ).values_list(
            "pk",
            "employee_id",
            "first_name",
            "last_name",
            "lessons_completed",
            "first_completed_at",
            "last_completed_at",
        )
        rows = QueryRows(learners, keys=completers.values_list("pk", flat=True))
        in_cohort = members.count()
        completed = rows.count()
        return ReportTable(
            title=f"{self.title}: {cohort}",
            columns=self.columns,
            rows=rows,
            parameters={
                "cohort": describe(cohort),
                "lesson": describe(lesson),
                "topic": describe(topic),
                "since": params.get("since"),
                "until": params.get("until"),
            },
            summary={
                "learners_in_cohort": in_cohort,
                "learners_completed": completed,
                "completion_rate": share(completed, in_cohort),
            },
        )


@register
class LessonIncompleteReport(Report):
    name = "lesson-incomplete"
    title = "Learners without completion of a lesson"
    description = (
        "Learners who have not completed a lesson, optionally only within a cohort and only "
        "those it was delivered to, with when it reached them."
    )
    paginated = True
    columns = [
        *LEARNER_COLUMNS,
        ("email", "Email"),
        ("preferred_channel", "Preferred channel"),
        ("received_at", "Received at"),
    ]

    class Parameters(serializers.Serializer):
        lesson = lesson_field()
        cohort = cohort_field(required=False)
        received_only = serializers.BooleanField(
            default=False, help_text="Only learners the lesson was delivered to."
        )

    def run(self, params: dict[str, Any]) -> ReportTable:
        lesson, cohort = params["lesson"], params.get("cohort")
        iri = lesson_iri(lesson.pk)
        received = live_statements().filter(verb_id=RECEIVED, object_id=iri)
        scope = learners_in(cohort)
        if params["received_only"]:
            scope = scope.filter(pk__in=learner_ids(received))
        incomplete = scope.exclude(pk__in=learner_ids(lesson_completions(lesson_id=lesson.pk)))

        def detailed(learners):
            return (
                learners.annotate(actor_key=learner_actor_key())
                .annotate(received_at=_per_learner(received, Max("timestamp")))
                .values_list(
                    "pk",
                    "employee_id",
                    "first_name",
                    "last_name",
                    "email",
                    "preferred_channel",
                    "received_at",
                )
            )

        rows = QueryRows(
            detailed(incomplete),
            keys=incomplete.values_list("pk", flat=True),
            lookup=detailed(Learner.objects.all()),
        )
        in_scope = scope.count()
        incomplete = rows.count()
        return ReportTable(
            title=f"{self.title}: {lesson}",
            columns=self.columns,
            rows=rows,
            parameters={
                "lesson": describe(lesson),
                "cohort": describe(cohort),
                "received_only": params["received_only"],
            },
            summary={
                "learners_in_scope": in_scope,
                "learners_completed": in_scope - incomplete,
                "learners_not_completed": incomplete,
            },
        )
