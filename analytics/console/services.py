"""Running a console query on behalf of a user, with its audit row (QueryRun)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.serializers.json import DjangoJSONEncoder

from analytics.console.registry import (
    ConsoleError,
    ConsoleQuery,
    QueryResult,
    ReadOnlyViolationError,
    UnknownQueryError,
    get_query,
    run_query,
)
from analytics.models import QueryRun

logger = logging.getLogger(__name__)


@dataclass
class ConsoleOutcome:
    query: ConsoleQuery
    form: forms.Form
    result: QueryResult | None = None
    error: ConsoleError | None = None
    run: QueryRun | None = None


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def query_run_refuse(*, query_name: str, reason: str, acting_user) -> QueryRun:
    """Log a refused request (unknown query, missing permission)."""
    logger.warning(
        "console query refused",
        extra={"query": query_name[:100], "reason": reason, "user": acting_user.pk},
    )
    return QueryRun.objects.create(
        query_name=query_name[:100], user=acting_user, refused=True, error=reason
    )


def console_query_get(*, name: str, acting_user) -> ConsoleQuery:
    """The registered query called `name`; anything else is refused and logged."""
    try:
        return get_query(name)
    except UnknownQueryError as exc:
        query_run_refuse(query_name=name, reason=exc.message, acting_user=acting_user)
        raise


def console_query_run(*, query: ConsoleQuery, data: Any, acting_user) -> ConsoleOutcome:
    """Validate `data` with the query's form and, if valid, run it read-only and log it.

    An invalid form runs nothing and logs nothing (`outcome.form.errors` says why); a run
    that the database refused or cancelled is logged with its error.
    """
    form = query.form(data)
    outcome = ConsoleOutcome(query=query, form=form)
    if not form.is_valid():
        return outcome
    parameters = _jsonable(form.cleaned_data)
    try:
        outcome.result = run_query(query, form.cleaned_data)
    except ConsoleError as exc:
        outcome.error = exc
        outcome.run = QueryRun.objects.create(
            query_name=query.name,
            parameters=parameters,
            user=acting_user,
            refused=isinstance(exc, ReadOnlyViolationError),
            error=f"{exc.code}: {exc.message}",
        )
        logger.warning(
            "console query failed",
            extra={"query": query.name, "code": exc.code, "user": acting_user.pk},
        )
        return outcome
    outcome.result.parameters = parameters
    outcome.run = QueryRun.objects.create(
        query_name=query.name,
        parameters=parameters,
        user=acting_user,
        row_count=outcome.result.row_count,
        duration_ms=outcome.result.duration_ms,
    )
    return outcome
