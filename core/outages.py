"""
Dependencies that are down: which one an exception says is unavailable, and one log line
per outage instead of one per request.

`dependency_down(exc)` names the dependency ("database", "redis", "broker") whose loss
raised `exc`, or None for any other error. The API's exception handler, the
`DependencyUnavailableMiddleware` (every other view: xAPI, provider webhooks, pages) and
the 500 handler (errors raised in middleware) all ask it, so a lost dependency answers
503 with Retry-After everywhere and never a 500.

Database: `django.db.OperationalError` and `InterfaceError` are what Django raises for a
connection that is refused, lost mid-query or already closed (also a server shutting
down, a statement cancelled by the server); none of them is the client's fault, and each
is worth a retry. Constraint and programming errors are not in this family and stay 500s.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache

logger = logging.getLogger(__name__)


def _classes() -> list[tuple[tuple[type[BaseException], ...], str]]:
    import kombu.exceptions
    import psycopg
    import redis.exceptions
    from django import db

    return [
        ((db.OperationalError, db.InterfaceError, psycopg.OperationalError), "database"),
        ((psycopg.InterfaceError,), "database"),
        ((redis.exceptions.ConnectionError, redis.exceptions.TimeoutError), "redis"),
        ((kombu.exceptions.OperationalError,), "broker"),
    ]


def dependency_down(exc: BaseException | None) -> str | None:
    """The dependency whose loss raised `exc` (followed through `raise ... from`), or None."""
    classes = _classes()
    depth = 0
    while exc is not None and depth < 5:
        for types, name in classes:
            if isinstance(exc, types):
                return name
        exc = exc.__cause__
        depth += 1
    return None


def retry_after_seconds() -> int:
    return settings.DEPENDENCY_RETRY_AFTER_SECONDS


@dataclass
class OutageLog:
    """
    Logs the first failure of an outage, then at most one "still down" line per
    `repeat_seconds` with the number of failures since, and "recovered" once it works.
    Per process; thread-safe.
    """

    name: str
    repeat_seconds: float = 60.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _down_since: float | None = None
    _last_logged: float = 0.0
    _failures: int = 0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failure(self, exc: BaseException, **extra) -> None:
        now = time.monotonic()
        with self._lock:
            self._failures += 1
            if self._down_since is None:
                self._down_since = self._last_logged = now
                first, failures = True, self._failures
            elif now - self._last_logged >= self.repeat_seconds:
                self._last_logged = now
                first, failures = False, self._failures
            else:
                return
            down_for = now - self._down_since
        logger.warning(
            f"{self.name} unavailable" if first else f"{self.name} still unavailable",
            extra={
                "outage": self.name,
                "error": f"{type(exc).__name__}: {exc}"[:300],
                "failures": failures,
                "down_seconds": round(down_for, 1),
                **extra,
            },
        )

    def recovered(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is None:
                return
            down_for = time.monotonic() - self._down_since
            failures = self._failures
            self._down_since, self._failures = None, 0
        logger.warning(
            f"{self.name} available again",
            extra={
                "outage": self.name,
                "failures": failures,
                "down_seconds": round(down_for, 1),
            },
        )


class DegradingCache:
    """Django's default cache, or this process's own while Redis does not answer (tried
    again after RATE_LIMIT_REDIS_RETRY_SECONDS), the outage logged once as `name`. For
    state that may hold per process for the length of an outage (throttle history,
    lockout counters) rather than fail the request."""

    def __init__(self, name: str, *, fallback: str) -> None:
        self._local = LocMemCache(
            f"frontline-fallback-{name}", {"OPTIONS": {"MAX_ENTRIES": 10_000}}
        )
        self._outage = OutageLog(name)
        self._fallback = fallback
        self._retry_at = 0.0

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        import redis.exceptions
        from django.core.cache import cache as default_cache

        if time.monotonic() >= self._retry_at:
            try:
                result = getattr(default_cache, method)(*args, **kwargs)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                self._retry_at = time.monotonic() + settings.RATE_LIMIT_REDIS_RETRY_SECONDS
                self._outage.failure(exc, fallback=self._fallback)
            else:
                self._outage.recovered()
                return result
        return getattr(self._local, method)(*args, **kwargs)

    def reset(self) -> None:
        """Back to the shared cache at once, with nothing kept from an outage."""
        self._retry_at = 0.0
        self._outage.recovered()
        self._local.clear()

    def get(self, key: str, default: Any = None) -> Any:
        return self._call("get", key, default)

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        return self._call("get_many", keys)

    def set(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT) -> None:
        self._call("set", key, value, timeout)

    def add(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT) -> bool:
        return self._call("add", key, value, timeout)

    def incr(self, key: str, delta: int = 1) -> int:
        return self._call("incr", key, delta)

    def delete(self, key: str) -> bool:
        return self._call("delete", key)

    def delete_many(self, keys: list[str]) -> None:
        self._call("delete_many", keys)


_request_outages: dict[str, OutageLog] = {}


def note_request_failure(dependency: str, exc: BaseException, path: str) -> None:
    """Log the outage (once) and, for the database, drop connections that are broken, so
    the next request reconnects instead of failing on the same dead socket."""
    log = _request_outages.setdefault(dependency, OutageLog(f"{dependency} (requests)"))
    log.failure(exc, path=path)
    if dependency == "database":
        from django.db import connections

        for connection in connections.all(initialized_only=True):
            try:
                if not connection.in_atomic_block:
                    connection.close_if_unusable_or_obsolete()
            except Exception:  # closing a dead connection can fail as well; drop it
                connection.connection = None


class DependencyUnavailableMiddleware:
    """A view that fails because a dependency is down answers 503 + Retry-After, not 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        dependency = dependency_down(exception)
        if dependency is None:
            return None
        from core.errors_views import service_unavailable

        note_request_failure(dependency, exception, request.path)
        return service_unavailable(request, dependency=dependency)
