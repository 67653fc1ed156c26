"""
What the reports share: how Frontline's own learners and lessons appear in the flattened
xAPI table (see analytics.handlers), and the parameter fields and checks they repeat.

Learners are xAPI agents with the account `learner:<id>` on XAPI_BASE_IRI, so a learner's
statements are `actor_key = 'account:<base>|learner:<id>'` (the (actor_key, verb_id) index);
lessons are activities `<base>/xapi/activities/lessons/<id>` (the (verb_id, object_id) index).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db.models import CharField, F, QuerySet, Value
from django.db.models.functions import Cast, Concat
from rest_framework import serializers

from analytics.handlers import VERBS
from analytics.models import StatementFlat
from core.api.exceptions import rule_violation
from core.api.fields import PrimaryKeyRelatedField, SlugRelatedField

COMPLETED = VERBS["completed"][0]
RECEIVED = VERBS["delivered"][0]
ANSWERED = VERBS["answered"][0]

GRANULARITIES = ("day", "week", "month")
# The columns that open every report with a row per learner (values_list pk first).
LEARNER_COLUMNS = (
    ("learner_id", "Learner id"),
    ("employee_id", "Employee id"),
    ("first_name", "First name"),
    ("last_name", "Last name"),
)
MAX_SPAN_DAYS = 366


def actor_key_prefix() -> str:
    return f"account:{settings.XAPI_BASE_IRI}|learner:"


def lesson_iri_prefix() -> str:
    return f"{settings.XAPI_BASE_IRI}/xapi/activities/lessons/"


def lesson_iri(lesson_id: int) -> str:
    return f"{lesson_iri_prefix()}{lesson_id}"


def learner_actor_key(field: str = "pk"):
    """SQL expression: the actor key of the learner whose id is `field`."""
    return Concat(Value(actor_key_prefix()), Cast(F(field), CharField()), output_field=CharField())


def learner_ids(statements: QuerySet) -> list[int]:
    """The ids of the learners whose statements these are (Frontline accounts only).

    Read into Python and given back to the database as a list of integers: an anti-join
    on the learner's id is then a hashed lookup, where matching `actor_key` against a key
    string built for each of 100,000 learners costs a string per learner.
    """
    prefix = actor_key_prefix()
    keys = statements.filter(actor_key__startswith=prefix).values_list("actor_key", flat=True)
    ids = set()
    for key in keys.order_by().distinct():
        suffix = key[len(prefix) :]
        if suffix.isdigit() and len(suffix) <= 18:
            ids.add(int(suffix))
    return sorted(ids)


def lesson_iris(lessons: QuerySet) -> QuerySet:
    """A subquery of the activity ids of these microlessons."""
    return (
        lessons.order_by()
        .annotate(
            iri=Concat(
                Value(lesson_iri_prefix()), Cast("pk", CharField()), output_field=CharField()
            )
        )
        .values("iri")
    )


def live_statements() -> QuerySet:
    return StatementFlat.objects.filter(voided=False)


def lesson_completions(
    *,
    lesson_id: int | None = None,
    topic_id: int | None = None,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
) -> QuerySet:
    """Flattened, unvoided 'completed' statements of Frontline lessons (one, a topic's, all)."""
    from lessons.models import Microlesson

    statements = live_statements().filter(verb_id=COMPLETED)
    if lesson_id is not None:
        statements = statements.filter(object_id=lesson_iri(lesson_id))
    elif topic_id is not None:
        statements = statements.filter(
            object_id__in=lesson_iris(Microlesson.objects.filter(topic_id=topic_id))
        )
    else:
        statements = statements.filter(object_id__startswith=lesson_iri_prefix())
    start, end = day_bounds(since, until)
    if start is not None:
        statements = statements.filter(timestamp__gte=start)
    if end is not None:
        statements = statements.filter(timestamp__lt=end)
    return statements


def day_bounds(
    since: datetime.date | None, until: datetime.date | None
) -> tuple[datetime.datetime | None, datetime.datetime | None]:
    """[since 00:00 UTC, the day after until 00:00 UTC): both dates count in full."""
    start = end = None
    if since is not None:
        start = datetime.datetime.combine(since, datetime.time.min, tzinfo=datetime.UTC)
    if until is not None:
        end = datetime.datetime.combine(
            until + datetime.timedelta(days=1), datetime.time.min, tzinfo=datetime.UTC
        )
    return start, end


def today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


def period_start(day: datetime.date, granularity: str) -> datetime.date:
    if granularity == "week":
        return day - datetime.timedelta(days=day.weekday())  # ISO weeks start on Monday
    if granularity == "month":
        return day.replace(day=1)
    return day


def share(part: int | float | None, whole: int | float | None, digits: int = 4) -> float | None:
    """part / whole rounded, or None when there is nothing to divide by."""
    if not whole or part is None:
        return None
    return round(part / whole, digits)


# --- parameters -------------------------------------------------------------------------


class DateRangeParameters(serializers.Serializer):
    """`since` and `until`, both optional, both days counted in full (UTC)."""

    since = serializers.DateField(required=False, help_text="First day (UTC), YYYY-MM-DD.")
    until = serializers.DateField(required=False, help_text="Last day (UTC), YYYY-MM-DD.")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data = super().validate(data)
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise rule_violation({"until": "Must be on or after since."})
        return data


class PeriodParameters(DateRangeParameters):
    """A bounded window (default: the last `default_days` days up to today) and a granularity."""

    default_days = 30

    granularity = serializers.ChoiceField(
        choices=GRANULARITIES, default="day", help_text="Rows per day, ISO week or month."
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data = super().validate(data)
        until = data.get("until") or today()
        since = data.get("since") or until - datetime.timedelta(days=self.default_days - 1)
        if since > until:
            raise rule_violation({"since": "Must be on or before until."})
        if (until - since).days + 1 > MAX_SPAN_DAYS:
            raise rule_violation({"since": f"The window may span at most {MAX_SPAN_DAYS} days."})
        data["since"], data["until"] = since, until
        return data


def cohort_field(**kwargs: Any) -> PrimaryKeyRelatedField:
    from learners.models import Cohort

    kwargs.setdefault("help_text", "Cohort id (a store, region or team).")
    return PrimaryKeyRelatedField(queryset=Cohort.objects.all(), **kwargs)


def learner_field(**kwargs: Any) -> PrimaryKeyRelatedField:
    from learners.models import Learner

    kwargs.setdefault("help_text", "Learner id.")
    return PrimaryKeyRelatedField(queryset=Learner.objects.all(), **kwargs)


def lesson_field(**kwargs: Any) -> PrimaryKeyRelatedField:
    from lessons.models import Microlesson

    kwargs.setdefault("help_text", "Microlesson id.")
    return PrimaryKeyRelatedField(queryset=Microlesson.objects.all(), **kwargs)


def topic_field(**kwargs: Any) -> SlugRelatedField:
    from lessons.models import Topic

    kwargs.setdefault("help_text", "Topic slug.")
    return SlugRelatedField(slug_field="slug", queryset=Topic.objects.all(), **kwargs)


def learners_in(cohort) -> QuerySet:
    """Learners of a cohort, through the column of its kind (store, region or team)."""
    from learners.models import Learner

    if cohort is None:
        return Learner.objects.all()
    return Learner.objects.filter(**{f"{cohort.kind}_id": cohort.pk})


def describe(obj) -> dict[str, Any] | None:
    """A parameter object as the report echoes it: its id and how it reads."""
    if obj is None:
        return None
    return {"id": obj.pk, "name": str(obj)}
