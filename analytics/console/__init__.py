"""
The safe query console (seed 002 §a.07b): named, parameterised, read-only queries that
staff with `analytics.run_query_console` pick from a list in the admin; results as a table
and CSV; every run (and every refusal) is logged as a QueryRun. There is no free-text SQL.

- `registry`: ConsoleQuery, register/get_query/all_queries, run_query (read-only + timeout);
- `queries`: the registered queries;
- `views`: the admin pages (wired by analytics.admin.QueryRunAdmin.get_urls).
"""

from analytics.console import queries as _queries  # noqa: F401 - registers the queries
from analytics.console.registry import (
    ConsoleError,
    ConsoleQuery,
    QueryFailedError,
    QueryResult,
    QueryTimeoutError,
    ReadOnlyViolationError,
    UnknownQueryError,
    all_queries,
    get_query,
    register,
    run_query,
    unregister,
)

__all__ = [
    "ConsoleError",
    "ConsoleQuery",
    "QueryFailedError",
    "QueryResult",
    "QueryTimeoutError",
    "ReadOnlyViolationError",
    "UnknownQueryError",
    "all_queries",
    "get_query",
    "register",
    "run_query",
    "unregister",
]
