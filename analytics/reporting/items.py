"""
`item-analysis`: how each quiz question of a topic performs, so authors can spot broken
questions (a wrong key, an ambiguous option, a question that does not measure anything).

Per question (a microlesson's quiz): scored answers, share correct, how often each option
was chosen (every option but the correct one is a wrong option), the most chosen wrong
option, and a discrimination index, with flags.

Discrimination is the point-biserial correlation between answering this question right
(0/1) and the learner's *rest score*: their share correct on the topic's other questions.

Why not the classic upper-minus-lower 27% index: it throws away the middle 46% of learners
and needs every learner to sit the same test, while ours answer different subsets of a
topic's questions (daily lessons, generated ones, spaced review), so group membership
would rest on a handful of answers and small groups make the index jump. The point-biserial
uses every answer, reads the same way (from -1 to 1; under 0.2 discriminates poorly; below 0
the strong learners get it wrong more often than the weak, the signature of a wrong key),
and excluding the question itself from the score keeps it from correlating with itself,
which would inflate the figure for topics with few questions. Learners with no other answer
in the topic have no rest score and do not enter the correlation. Only the counted (first)
answer per learner and lesson is used; repeats and reviews are practice.

The sums are one SQL statement (window functions over the topic's answers); the correlation
is computed from them in Python.
"""

from __future__ import annotations

import math
from typing import Any

from django.db import connection
from rest_framework import serializers

from analytics.reporting.base import Report, ReportTable, register
from analytics.reporting.common import (
    DateRangeParameters,
    day_bounds,
    describe,
    lesson_field,
    topic_field,
)
from core.api.exceptions import rule_violation

MAX_OPTIONS = 4
LOW_DISCRIMINATION = 0.2

_SQL = """
WITH answers AS (
    SELECT r.learner_id, r.microlesson_id, r.user_answer,
           CASE WHEN r.is_correct THEN 1 ELSE 0 END AS correct
    FROM {results} r
    JOIN {lessons} m ON m.id = r.microlesson_id
    WHERE r.counted AND m.topic_id = %s {window}
), scored AS (
    SELECT microlesson_id, user_answer, correct,
           SUM(correct) OVER (PARTITION BY learner_id) - correct AS rest_correct,
           COUNT(*) OVER (PARTITION BY learner_id) - 1 AS rest_answers
    FROM answers
), rested AS (
    SELECT microlesson_id, user_answer, correct,
           CASE WHEN rest_answers > 0 THEN rest_correct * 1.0 / rest_answers END AS rest_score
    FROM scored
)
SELECT microlesson_id,
       COUNT(*),
       SUM(correct),
       {options},
       COUNT(rest_score),
       SUM(CASE WHEN rest_score IS NOT NULL THEN correct ELSE 0 END),
       SUM(rest_score),
       SUM(correct * rest_score),
       SUM(rest_score * rest_score)
FROM rested
{only}
GROUP BY microlesson_id
"""


def point_biserial(n: int, sx: float, sy: float, sxy: float, syy: float) -> float | None:
    """Pearson's r of a 0/1 variable x and a score y from their sums (x² = x)."""
    if n < 2:
        return None
    spread = (n * sx - sx * sx) * (n * syy - sy * sy)
    if spread <= 1e-12:  # everyone right, everyone wrong, or all rest scores equal
        return None
    return (n * sxy - sx * sy) / math.sqrt(spread)


def _flags(
    *, answers: int, correct: int, options: list, key: int, discrimination, min_answers: int
) -> list[str]:
    if answers < min_answers:
        return [f"fewer than {min_answers} answers"]
    flags = []
    for index, chosen in enumerate(options):
        if index != key and chosen is not None and chosen > correct:
            flags.append(f"wrong option {index + 1} chosen more often than the answer")
    if discrimination is not None:
        if discrimination < 0:
            flags.append("negative discrimination")
        elif discrimination < LOW_DISCRIMINATION:
            flags.append("low discrimination")
    return flags


@register
class ItemAnalysisReport(Report):
    name = "item-analysis"
    title = "Item analysis"
    description = (
        "Per quiz question of a topic (or one lesson): answers, share correct, how often each "
        "option was chosen, the most chosen wrong option, and discrimination (point-biserial "
        "correlation with the learner's score on the topic's other questions), flagging "
        "negative or low discrimination and wrong options chosen more than the answer."
    )
    columns = [
        ("lesson_id", "Lesson id"),
        ("lesson", "Lesson"),
        ("question", "Question"),
        ("answers", "Answers"),
        ("correct_share", "Share correct"),
        ("correct_option", "Correct option"),
        *[(f"option_{i}", f"Option {i} chosen") for i in range(1, MAX_OPTIONS + 1)],
        ("top_wrong_option", "Most chosen wrong option"),
        ("top_wrong_share", "Most chosen wrong option share"),
        ("discrimination", "Discrimination (point-biserial)"),
        ("flags", "Flags"),
    ]

    class Parameters(DateRangeParameters):
        topic = topic_field(required=False, help_text="Every question of this topic (slug).")
        lesson = lesson_field(
            required=False, help_text="Only this lesson's question (id); scored within its topic."
        )
        min_answers = serializers.IntegerField(
            default=30,
            min_value=1,
            max_value=100_000,
            help_text="Questions with fewer answers are not judged (flagged as such).",
        )

        def validate(self, data: dict[str, Any]) -> dict[str, Any]:
            data = super().validate(data)
            topic, lesson = data.get("topic"), data.get("lesson")
            if topic is None and lesson is None:
                raise rule_violation({"topic": "Give a topic or a lesson."})
            if topic is not None and lesson is not None and lesson.topic_id != topic.pk:
                raise rule_violation({"lesson": "This lesson is not in that topic."})
            return data

    def run(self, params: dict[str, Any]) -> ReportTable:
        from assessments.models import AssessmentResult
        from lessons.models import Microlesson

        lesson = params.get("lesson")
        topic = params.get("topic") or lesson.topic
        start, end = day_bounds(params.get("since"), params.get("until"))
        window, values = "", [topic.pk]
        if start is not None:
            window += " AND r.attempted_at >= %s"
            values.append(start)
        if end is not None:
            window += " AND r.attempted_at < %s"
            values.append(end)
        only = ""
        if lesson is not None:
            only = "WHERE microlesson_id = %s"
            values.append(lesson.pk)
        sql = _SQL.format(
            results=connection.ops.quote_name(AssessmentResult._meta.db_table),
            lessons=connection.ops.quote_name(Microlesson._meta.db_table),
            window=window,
            options=",\n       ".join(
                f"SUM(CASE WHEN user_answer = {i} THEN 1 ELSE 0 END)" for i in range(MAX_OPTIONS)
            ),
            only=only,
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
            figures = cursor.fetchall()
        lessons = Microlesson.objects.in_bulk([row[0] for row in figures])
        min_answers = params["min_answers"]
        rows = []
        for lesson_id, answers, correct, *rest in figures:
            chosen, (n, sx, sy, sxy, syy) = rest[:MAX_OPTIONS], rest[MAX_OPTIONS:]
            item = lessons[lesson_id]
            key = item.correct_answer
            option_counts = [
                int(chosen[i]) if i < len(item.quiz_options) else None for i in range(MAX_OPTIONS)
            ]
            wrong = [(count, i) for i, count in enumerate(option_counts) if i != key and count]
            top_count, top_index = max(
                wrong, key=lambda pair: (pair[0], -pair[1]), default=(0, None)
            )
            discrimination = point_biserial(
                n, float(sx or 0), float(sy or 0), float(sxy or 0), float(syy or 0)
            )
            discrimination = round(discrimination, 4) if discrimination is not None else None
            flags = _flags(
                answers=answers,
                correct=int(correct),
                options=option_counts,
                key=key,
                discrimination=discrimination,
                min_answers=min_answers,
            )
            rows.append(
                (
                    lesson_id,
                    item.title,
                    item.quiz_question,
                    answers,
                    round(int(correct) / answers, 4),
                    key + 1,
                    *option_counts,
                    top_index + 1 if top_index is not None else None,
                    round(top_count / answers, 4) if top_index is not None else None,
                    discrimination,
                    "; ".join(flags),
                )
            )
        judged = [row for row in rows if row[3] >= min_answers]
        rows.sort(key=_worst_first)
        return ReportTable(
            title=f"{self.title}: {lesson if lesson is not None else topic}",
            columns=self.columns,
            rows=rows,
            parameters={
                "topic": describe(topic),
                "lesson": describe(lesson),
                "since": params.get("since"),
                "until": params.get("until"),
                "min_answers": min_answers,
            },
            summary={
                "questions": len(rows),
                "answers": sum(row[3] for row in rows),
                "questions_judged": len(judged),
                "questions_flagged": sum(1 for row in judged if row[-1]),
                "discrimination": "point-biserial correlation with the rest score",
            },
        )


def _worst_first(row: tuple) -> tuple:
    """Flagged questions first, then by discrimination (lowest first, unknown last)."""
    judged_and_flagged = bool(row[-1]) and not row[-1].startswith("fewer than")
    discrimination = row[-2]
    return (not judged_and_flagged, discrimination is None, discrimination or 0, row[0])
