"""
The console's named queries (seed 002 §a.07b's prebuilt queries), one per question staff
ask when something looks wrong: what came in last, who completed what, where deliveries
fail, what is dead-lettered, how far the ETL trails, what the gift cards owe, where the
returns are. Tables are named as {app_label.ModelName}; parameters are typed by a form.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone

from analytics.console.registry import ConsoleQuery, register


def _limit(default: int = 50) -> forms.IntegerField:
    return forms.IntegerField(
        min_value=1, max_value=1000, initial=default, help_text="Rows at most (1 to 1000)."
    )


def _since(unit: str):
    """prepare(): the form's `hours`/`days` become a `since` datetime bound as a parameter."""

    def prepare(cleaned: dict[str, Any], connection) -> dict[str, Any]:
        params = dict(cleaned)
        since = timezone.now() - timedelta(**{unit: params.pop(unit)})
        params["since"] = connection.ops.adapt_datetimefield_value(since)
        return params

    return prepare


def _blank_to_empty(cleaned: dict[str, Any], connection) -> dict[str, Any]:
    return {key: ("" if value is None else value) for key, value in cleaned.items()}


def _chain(*steps):
    def prepare(cleaned: dict[str, Any], connection) -> dict[str, Any]:
        for step in steps:
            cleaned = step(cleaned, connection)
        return cleaned

    return prepare


class LastStatementsForm(forms.Form):
    limit = _limit()
    verb = forms.CharField(
        required=False, max_length=300, help_text="Only this verb IRI (empty: every verb)."
    )


register(
    ConsoleQuery(
        name="last-statements",
        title="Last statements stored",
        description="The most recently stored xAPI statements, newest first.",
        form=LastStatementsForm,
        sql="""
            SELECT s.id, s.stored, s.timestamp, s.actor_key, s.verb_id, s.object_type,
                   s.object_id, s.voided
            FROM {analytics.Statement} s
            WHERE (%(verb)s = '' OR s.verb_id = %(verb)s)
            ORDER BY s.stored DESC, s.id DESC
            LIMIT %(limit)s
        """,
        prepare=_blank_to_empty,
    )
)


class StatementForm(forms.Form):
    statement_id = forms.UUIDField(label="Statement id")


def _statement_id(cleaned: dict[str, Any], connection) -> dict[str, Any]:
    from analytics.models import Statement

    field = Statement._meta.get_field("id")
    return {"statement_id": field.get_db_prep_value(cleaned["statement_id"], connection)}


register(
    ConsoleQuery(
        name="statement-json",
        title="One statement, as stored",
        description="A statement's stored JSON document and its flattened row, by id.",
        form=StatementForm,
        sql="""
            SELECT s.id, s.stored, s.voided, s.data AS document, f.verb_display,
                   f.object_name, f.result_success, f.result_completion,
                   f.result_score_scaled, f.flattened_at
            FROM {analytics.Statement} s
            LEFT JOIN {analytics.StatementFlat} f ON f.statement_id = s.id
            WHERE s.id = %(statement_id)s
        """,
        prepare=_statement_id,
    )
)


class HoursLimitForm(forms.Form):
    hours = forms.IntegerField(min_value=1, max_value=24 * 90, initial=24, help_text="Look back.")
    limit = _limit()


register(
    ConsoleQuery(
        name="recent-completions",
        title="Recent lesson completions",
        description="Lessons completed in the last hours, with the learner and the lesson.",
        form=HoursLimitForm,
        sql="""
            SELECT c.completed_at, l.id AS learner_id, l.employee_id, l.first_name,
                   l.last_name, m.id AS lesson_id, m.title AS lesson
            FROM {lessons.LessonCompletion} c
            JOIN {learners.Learner} l ON l.id = c.learner_id
            JOIN {lessons.Microlesson} m ON m.id = c.microlesson_id
            WHERE c.completed_at >= %(since)s
            ORDER BY c.completed_at DESC, c.id DESC
            LIMIT %(limit)s
        """,
        prepare=_since("hours"),
    )
)


class DaysForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=366, initial=14, help_text="Look back.")


register(
    ConsoleQuery(
        name="statements-by-verb-per-day",
        title="Statements by verb per day",
        description="Non-voided flattened statements per UTC day (by stored time) and verb.",
        form=DaysForm,
        sql="""
            SELECT CAST(f.stored AT TIME ZONE 'UTC' AS date) AS day, f.verb_id,
                   MAX(f.verb_display) AS verb, COUNT(*) AS statements
            FROM {analytics.StatementFlat} f
            WHERE NOT f.voided AND f.stored >= %(since)s
            GROUP BY 1, 2
            ORDER BY 1 DESC, 4 DESC
        """,
        sqlite_sql="""
            SELECT date(f.stored) AS day, f.verb_id, MAX(f.verb_display) AS verb,
                   COUNT(*) AS statements
            FROM {analytics.StatementFlat} f
            WHERE NOT f.voided AND f.stored >= %(since)s
            GROUP BY 1, 2
            ORDER BY 1 DESC, 4 DESC
        """,
        prepare=_since("days"),
    )
)


class LessonForm(forms.Form):
    lesson = forms.IntegerField(min_value=1, label="Lesson id")
    limit = _limit(100)


register(
    ConsoleQuery(
        name="learners-without-completion",
        title="Learners who have not completed a lesson",
        description="Learners with no completion of the given microlesson (by lesson id).",
        form=LessonForm,
        sql="""
            SELECT l.id AS learner_id, l.employee_id, l.first_name, l.last_name, l.email,
                   l.preferred_channel
            FROM {learners.Learner} l
            WHERE NOT EXISTS (
                SELECT 1 FROM {lessons.LessonCompletion} c
                WHERE c.learner_id = l.id AND c.microlesson_id = %(lesson)s
            )
            ORDER BY l.last_name, l.first_name, l.id
            LIMIT %(limit)s
        """,
    )
)


class FailuresForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=90, initial=7, help_text="Look back.")


register(
    ConsoleQuery(
        name="delivery-failures-by-error",
        title="Delivery failures by error",
        description="Failed provider calls per channel, error category and reason.",
        form=FailuresForm,
        sql="""
            SELECT a.channel, a.error_category, a.error_reason, COUNT(*) AS failures,
                   MAX(a.created_at) AS last_seen
            FROM {delivery.DeliveryAttempt} a
            WHERE a.status = 'failed' AND a.created_at >= %(since)s
            GROUP BY a.channel, a.error_category, a.error_reason
            ORDER BY failures DESC, a.channel
        """,
        prepare=_since("days"),
    )
)


class LimitForm(forms.Form):
    limit = _limit()


register(
    ConsoleQuery(
        name="dead-letters",
        title="Dead-lettered deliveries",
        description="Delivery tasks that used up their retries, most recent first.",
        form=LimitForm,
        sql="""
            SELECT t.id, t.kind, t.learner_id, t.local_date, t.channel, t.channels_tried,
                   t.error_category, t.last_error, t.failed_at, t.updated_at
            FROM {delivery.DeliveryTask} t
            WHERE t.state = 'dead_lettered'
            ORDER BY t.updated_at DESC, t.id DESC
            LIMIT %(limit)s
        """,
    )
)


class HoursForm(forms.Form):
    hours = forms.IntegerField(min_value=1, max_value=24 * 30, initial=24, help_text="Look back.")


register(
    ConsoleQuery(
        name="etl-lag",
        title="ETL lag",
        description=(
            "Statements stored in the last hours that have no flattened row yet, the oldest "
            "of them, and the newest stored and flattened times."
        ),
        form=HoursForm,
        sql="""
            SELECT COUNT(s.id) AS unflattened, MIN(s.stored) AS oldest_unflattened_stored,
                   (SELECT MAX(stored) FROM {analytics.Statement}) AS last_stored,
                   (SELECT MAX(flattened_at) FROM {analytics.StatementFlat}) AS last_flattened
            FROM {analytics.Statement} s
            LEFT JOIN {analytics.StatementFlat} f ON f.statement_id = s.id
            WHERE f.statement_id IS NULL AND s.stored >= %(since)s
        """,
        prepare=_since("hours"),
    )
)

register(
    ConsoleQuery(
        name="gift-card-liability",
        title="Gift card liability by currency",
        description="Outstanding balances of cards that are not voided or expired.",
        sql="""
            SELECT g.currency, COUNT(*) AS cards, SUM(g.current_balance) AS outstanding
            FROM {gift_cards.GiftCard} g
            WHERE g.status IN ('active', 'partially_redeemed', 'fully_redeemed')
            GROUP BY g.currency
            ORDER BY g.currency
        """,
    )
)

register(
    ConsoleQuery(
        name="returns-by-state",
        title="Returns by state",
        description="Return requests per status and refund state.",
        sql="""
            SELECT r.status, r.refund_state, COUNT(*) AS returns,
                   MIN(r.created_at) AS oldest, MAX(r.updated_at) AS last_change
            FROM {returns.ReturnRequest} r
            GROUP BY r.status, r.refund_state
            ORDER BY r.status, r.refund_state
        """,
    )
)

register(
    ConsoleQuery(
        name="failed-job-runs",
        title="Failed job runs",
        description="Scheduled and operator jobs that failed in the last hours.",
        form=HoursLimitForm,
        sql="""
            SELECT j.id, j.name, j.started_at, j.finished_at, j.error, j.task_id
            FROM {core.JobRun} j
            WHERE j.status = 'failed' AND j.started_at >= %(since)s
            ORDER BY j.started_at DESC, j.id DESC
            LIMIT %(limit)s
        """,
        prepare=_since("hours"),
    )
)


class InboundForm(HoursLimitForm):
    provider = forms.ChoiceField(
        required=False,
        choices=[
            ("", "every provider"),
            ("twilio", "Twilio"),
            ("slack", "Slack"),
            ("email", "Email"),
        ],
    )


register(
    ConsoleQuery(
        name="inbound-webhooks",
        title="Inbound provider requests",
        description="Provider callbacks and replies received, with their outcome.",
        form=InboundForm,
        sql="""
            SELECT i.created_at, i.provider, i.kind, i.signature_ok, i.outcome, i.status_code,
                   i.provider_request_id, i.learner_id, i.task_id
            FROM {delivery.InboundRequest} i
            WHERE i.created_at >= %(since)s AND (%(provider)s = '' OR i.provider = %(provider)s)
            ORDER BY i.created_at DESC, i.id DESC
            LIMIT %(limit)s
        """,
        prepare=_chain(_since("hours"), _blank_to_empty),
    )
)
