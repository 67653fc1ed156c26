"""
The safe query console's registry and runner.

A console query is SQL written here, in code review, never typed by a user: staff pick one
by name and fill in its typed parameters (a Django form). The runner then executes it

- on PostgreSQL inside `transaction.atomic` with `SET TRANSACTION READ ONLY` and a
  transaction-local `statement_timeout`, always rolled back (there is nothing to commit), so
  a query that tries to write fails with PostgreSQL's own read-only error and one that runs
  too long is cancelled by the server;
- on SQLite (embedded mode) with `PRAGMA query_only` on for the one statement and a
  progress handler that interrupts it past the same timeout, outside any write transaction
  (embedded mode's BEGIN IMMEDIATE would take the write lock for nothing);

with the parameters bound by the driver (never formatted into the SQL), fetching at most
`ANALYTICS_CONSOLE_MAX_ROWS` rows. A name that is not registered is refused.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connections, transaction


class ConsoleError(Exception):
    """A console query did not run; `code` says why (see the subclasses)."""

    code = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UnknownQueryError(ConsoleError):
    code = "unknown_query"


class ReadOnlyViolationError(ConsoleError):
    code = "read_only"


class QueryTimeoutError(ConsoleError):
    code = "timeout"


class QueryFailedError(ConsoleError):
    code = "query_failed"


class NoParameters(forms.Form):
    """The form of a query that takes no parameters."""


# `{app_label.ModelName}` in a query's SQL stands for that model's table (quoted).
_TABLE = re.compile(r"\{(\w+)\.(\w+)\}")


@dataclass(frozen=True)
class ConsoleQuery:
    name: str  # slug, used in the URL and the audit log
    title: str
    description: str
    sql: str  # named parameters as %(name)s; tables as {app_label.ModelName}
    form: type[forms.Form] = NoParameters
    # SQL for SQLite where PostgreSQL's differs (date functions); None: the same SQL.
    sqlite_sql: str | None = None
    # Form data → SQL parameters (e.g. "days" → a `since` datetime); gets the connection
    # so values can be adapted for its backend.
    prepare: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None
    vendors: tuple[str, ...] = ("postgresql", "sqlite")

    def __post_init__(self) -> None:
        for text in (self.sql, self.sqlite_sql or ""):
            if ";" in text.strip().rstrip(";"):
                raise ValueError(f"console query {self.name!r}: one statement only")

    def sql_for(self, connection) -> str:
        text = self.sqlite_sql if connection.vendor == "sqlite" and self.sqlite_sql else self.sql
        text = text.strip().rstrip(";")

        def table(match: re.Match) -> str:
            model = apps.get_model(match.group(1), match.group(2))
            return connection.ops.quote_name(model._meta.db_table)

        return _TABLE.sub(table, text)

    def parameters_for(self, cleaned: dict[str, Any], connection) -> dict[str, Any]:
        return self.prepare(cleaned, connection) if self.prepare else dict(cleaned)


_REGISTRY: dict[str, ConsoleQuery] = {}


def register(query: ConsoleQuery) -> ConsoleQuery:
    if query.name in _REGISTRY:
        raise ValueError(f"console query {query.name!r} registered twice")
    _REGISTRY[query.name] = query
    return query


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def get_query(name: str) -> ConsoleQuery:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownQueryError(f"There is no console query called {name!r}.") from None


def all_queries() -> list[ConsoleQuery]:
    return sorted(_REGISTRY.values(), key=lambda query: query.title)


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[Sequence[Any]]
    truncated: bool  # more rows than the cap existed
    duration_ms: float
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def row_count(self) -> int:
        return len(self.rows)


def console_connection():
    return connections[settings.ANALYTICS_CONSOLE_DATABASE]


def run_query(query: ConsoleQuery, cleaned: dict[str, Any]) -> QueryResult:
    """Run a registered query read-only with a timeout; raises a ConsoleError subclass."""
    connection = console_connection()
    if connection.vendor not in query.vendors:
        raise QueryFailedError(f"{query.title} is not available on {connection.vendor}.")
    sql = query.sql_for(connection)
    params = query.parameters_for(cleaned, connection)
    timeout_ms = settings.ANALYTICS_CONSOLE_STATEMENT_TIMEOUT_MS
    max_rows = settings.ANALYTICS_CONSOLE_MAX_ROWS
    started = time.perf_counter()
    if connection.vendor == "postgresql":
        columns, rows = _run_postgresql(connection, sql, params, timeout_ms, max_rows)
    elif connection.vendor == "sqlite":
        columns, rows = _run_sqlite(connection, sql, params, timeout_ms, max_rows)
    else:  # pragma: no cover - Frontline runs on PostgreSQL or SQLite only
        raise QueryFailedError(f"The console does not run on {connection.vendor}.")
    return QueryResult(
        columns=columns,
        rows=rows[:max_rows],
        truncated=len(rows) > max_rows,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )


# SQLSTATEs: 25006 read_only_sql_transaction, 57014 query_canceled (statement_timeout).
_PG_READ_ONLY = "25006"
_PG_CANCELED = "57014"


def _run_postgresql(connection, sql, params, timeout_ms, max_rows):
    try:
        with transaction.atomic(using=connection.alias):
            with connection.cursor() as cursor:
                # Lowering a transaction to read-only is allowed at any point, also inside
                # a savepoint; the rollback below (ROLLBACK or ROLLBACK TO SAVEPOINT) undoes
                # both settings, so nothing outlives this block.
                cursor.execute("SET TRANSACTION READ ONLY")
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true)", [f"{int(timeout_ms)}ms"]
                )
                cursor.execute(sql, params)
                columns = [column.name for column in cursor.description or []]
                rows = cursor.fetchmany(max_rows + 1) if cursor.description else []
            transaction.set_rollback(True, using=connection.alias)
    except DatabaseError as exc:
        sqlstate = getattr(exc.__cause__, "sqlstate", None)
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if sqlstate == _PG_READ_ONLY:
            raise ReadOnlyViolationError(f"Refused: the console is read-only ({text}).") from exc
        if sqlstate == _PG_CANCELED:
            raise QueryTimeoutError(
                f"Cancelled after the statement timeout of {timeout_ms} ms ({text})."
            ) from exc
        raise QueryFailedError(f"The query failed: {text}") from exc
    return columns, [tuple(row) for row in rows]


def _run_sqlite(connection, sql, params, timeout_ms, max_rows):
    deadline = time.monotonic() + timeout_ms / 1000
    timed_out = False

    def past_deadline() -> int:
        nonlocal timed_out
        timed_out = time.monotonic() > deadline
        return 1 if timed_out else 0

    with connection.cursor() as cursor:
        raw = connection.connection
        cursor.execute("PRAGMA query_only = ON")
        raw.set_progress_handler(past_deadline, 1000)
        try:
            cursor.execute(sql, params)
            columns = [column[0] for column in cursor.description or []]
            rows = cursor.fetchmany(max_rows + 1) if cursor.description else []
        except (DatabaseError, sqlite3.Error) as exc:
            text = str(exc).strip() or type(exc).__name__
            if timed_out or "interrupted" in text:
                raise QueryTimeoutError(
                    f"Cancelled after the statement timeout of {timeout_ms} ms ({text})."
                ) from exc
            if "readonly" in text.replace("-", "").replace(" ", "").lower():
                raise ReadOnlyViolationError(
                    f"Refused: the console is read-only ({text})."
                ) from exc
            raise QueryFailedError(f"The query failed: {text}") from exc
        finally:
            raw.set_progress_handler(None, 0)
            cursor.execute("PRAGMA query_only = OFF")
    return columns, [tuple(row) for row in rows]
