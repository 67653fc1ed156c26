"""
`learner-progress`: one row per learner with their learning paths, the lessons they
completed (flattened xAPI statements), their scored answers and when they were last active.

Each figure is a correlated subquery on an indexed column of its table, so a JSON page of
50 learners costs a few hundred index lookups whatever the number of learners (PostgreSQL
evaluates the subqueries after ORDER BY … LIMIT), and the CSV streams every learner.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Avg, Count, IntegerField, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from rest_framework import serializers

from analytics.reporting.base import QueryRows, Report, ReportTable, register
from analytics.reporting.common import (
    LEARNER_COLUMNS,
    cohort_field,
    describe,
    learner_actor_key,
    learner_field,
    learners_in,
    lesson_completions,
    live_statements,
    share,
)


def _count(queryset, *, filter=None):
    """Correlated COUNT over the learner's rows of `queryset` (0 when there are none)."""
    return Coalesce(
        Subquery(
            queryset.filter(learner_id=OuterRef("pk"))
            .order_by()
            .values("learner_id")
            .annotate(value=Count("pk", filter=filter))
            .values("value"),
            output_field=IntegerField(),
        ),
        0,
    )


def _row(record: tuple) -> tuple:
    *learner, paths, done, percentage, lessons, answers, correct, last_activity_at = record
    return (
        *learner,
        paths,
        done,
        round(percentage, 2) if percentage is not None else None,
        lessons or 0,
        answers,
        correct,
        share(correct, answers),
        last_activity_at,
    )


@register
class LearnerProgressReport(Report):
    name = "learner-progress"
    title = "Learner progress"
    description = (
        "Per learner: learning paths enrolled and completed with their average completion, "
        "distinct lessons completed, scored answers and the share correct, last activity."
    )
    paginated = True
    columns = [
        *LEARNER_COLUMNS,
        ("store", "Store"),
        ("paths", "Learning paths"),
        ("paths_completed", "Paths completed"),
        ("path_completion_percentage", "Average path completion %"),
        ("lessons_completed", "Lessons completed"),
        ("answers", "Scored answers"),
        ("correct_answers", "Correct answers"),
        ("correct_share", "Share correct"),
        ("last_activity_at", "Last activity at"),
    ]

    class Parameters(serializers.Serializer):
        cohort = cohort_field(required=False)
        learner = learner_field(required=False, help_text="Only this learner (id).")

    def run(self, params: dict[str, Any]) -> ReportTable:
        from assessments.models import AssessmentResult
        from lessons.models import LearningPath

        cohort, learner = params.get("cohort"), params.get("learner")
        learners = learners_in(cohort)
        if learner is not None:
            learners = learners.filter(pk=learner.pk)
        completions = lesson_completions()
        paths = LearningPath.objects.all()
        answers = AssessmentResult.objects.filter(counted=True)
        queryset = (
            learners.annotate(actor_key=learner_actor_key())
            .annotate(
                paths=_count(paths),
                paths_completed=_count(paths, filter=Q(status=LearningPath.Status.COMPLETED)),
                path_completion=Subquery(
                    paths.filter(learner_id=OuterRef("pk"))
                    .order_by()
                    .values("learner_id")
                    .annotate(value=Avg("completion_percentage"))
                    .values("value")
                ),
                lessons_completed=Subquery(
                    completions.filter(actor_key=OuterRef("actor_key"))
                    .order_by()
                    .values("actor_key")
                    .annotate(value=Count("object_id", distinct=True))
                    .values("value")
                ),
                answers=_count(answers),
                correct_answers=_count(answers, filter=Q(is_correct=True)),
                last_activity_at=Subquery(
                    live_statements()
                    .filter(actor_key=OuterRef("actor_key"))
                    .order_by()
                    .values("actor_key")
                    .annotate(value=Max("timestamp"))
                    .values("value")
                ),
            )
            .values_list(
                "pk",
                "employee_id",
                "first_name",
                "last_name",
                "store__name",
                "paths",
                "paths_completed",
                "path_completion",
                "lessons_completed",
                "answers",
                "correct_answers",
                "last_activity_at",
            )
        )
        rows = QueryRows(queryset, _row, keys=learners.values_list("pk", flat=True))
        return ReportTable(
            title=self.title if cohort is None else f"{self.title}: {cohort}",
            columns=self.columns,
            rows=rows,
            parameters={"cohort": describe(cohort), "learner": describe(learner)},
            summary={"learners": rows.count()},
        )
