"""
Lockouts after repeated failures (wrong xAPI secrets, invalid gift card codes), shared by
every web process through the cache (Redis in production), and the JSON answer of a
django-axes login lockout.

A `Lockout` counts failures per subject ("key:abc", "ip:203.0.113.9", "user:42") within a
window; at the threshold the subject is locked for `lockout_seconds`. Each lock is also
listed in an index (a Redis sorted set; in embedded mode, without Redis, this process's
memory) so staff can see current lockouts in the admin and lift them. django-axes keeps
login lockouts itself (its AccessAttempt admin).

While Redis does not answer, counters, locks and the index are kept per process for the
length of the outage (logged once), like the API throttles: a check never fails the
request it guards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.exceptions
from django.http import HttpResponse, JsonResponse

from core.outages import DegradingCache
from core.redis import get_redis

_INDEX = "frontline:lockouts"
_local_index: dict[str, float] = {}
_local_lock = threading.Lock()
_REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
_cache = DegradingCache("redis (lockouts)", fallback="per-process lockouts")


@dataclass(frozen=True)
class ActiveLockout:
    name: str
    subject: str
    until: float

    @property
    def until_at(self) -> datetime:
        return datetime.fromtimestamp(self.until, tz=UTC)

    @property
    def member(self) -> str:
        return f"{self.name}|{self.subject}"


def _lock_key(name: str, subject: str) -> str:
    return f"lockout:{name}:{subject}"


def _count_key(name: str, subject: str) -> str:
    return f"lockout-failures:{name}:{subject}"


@dataclass(frozen=True)
class Lockout:
    """`threshold` failures of one subject within `window_seconds` lock it out."""

    name: str
    threshold: int
    window_seconds: int
    lockout_seconds: int

    def retry_after(self, subjects: Iterable[str]) -> int:
        """Seconds until every subject is open again (0: none is locked)."""
        return retry_after_any([(self, subjects)])

    def record_failure(self, subjects: Iterable[str]) -> None:
        if self.threshold <= 0:
            return
        for subject in subjects:
            count_key = _count_key(self.name, subject)
            _cache.add(count_key, 0, timeout=self.window_seconds)
            try:
                failures = _cache.incr(count_key)
            except ValueError:  # expired between add and incr
                _cache.set(count_key, 1, timeout=self.window_seconds)
                failures = 1
            if failures >= self.threshold:
                until = time.time() + self.lockout_seconds
                _cache.set(_lock_key(self.name, subject), until, timeout=self.lockout_seconds)
                _cache.delete(count_key)
                _index_add(f"{self.name}|{subject}", until)


def retry_after_any(checks: Iterable[tuple[Lockout, Iterable[str]]]) -> int:
    """Seconds until every (lockout, subjects) pair is open again, in one cache round trip
    (the xAPI hot path checks its key and address lockouts once per request)."""
    keys = [
        _lock_key(lockout.name, subject) for lockout, subjects in checks for subject in subjects
    ]
    untils = _cache.get_many(keys).values() if keys else []
    remaining = max((until - time.time() for until in untils if until), default=0)
    return int(remaining) + 1 if remaining > 0 else 0


def _index_add(member: str, until: float) -> None:
    client = get_redis()
    if client is not None:
        try:
            client.zadd(_INDEX, {member: until})
            return
        except _REDIS_DOWN:
            pass  # listed in this process only: the lock itself is in the fallback cache
    with _local_lock:
        _local_index[member] = until


def active_lockouts() -> list[ActiveLockout]:
    """Current lockouts, soonest to end first (expired ones are dropped from the index)."""
    now = time.time()
    client = get_redis()
    if client is not None:
        client.zremrangebyscore(_INDEX, "-inf", now)
        entries = client.zrange(_INDEX, 0, -1, withscores=True)
    else:
        with _local_lock:
            for member in [m for m, until in _local_index.items() if until <= now]:
                del _local_index[member]
            entries = sorted(_local_index.items(), key=lambda item: item[1])
    found = []
    for member, until in entries:
        name, _, subject = member.partition("|")
        # The cache entry is the truth: a lock lifted elsewhere is not shown.
        if _cache.get(_lock_key(name, subject)):
            found.append(ActiveLockout(name=name, subject=subject, until=float(until)))
    return found


def lockout_lift(*, name: str, subject: str) -> None:
    """End one lockout now and forget its failure count."""
    _cache.delete_many([_lock_key(name, subject), _count_key(name, subject)])
    member = f"{name}|{subject}"
    client = get_redis()
    if client is not None:
        client.zrem(_INDEX, member)
    else:
        with _local_lock:
            _local_index.pop(member, None)


LOGIN_LOCKED_MESSAGE = "Too many failed sign-in attempts; try again later."

# django-axes stores the attempted username in 255-character columns and, unlike the user
# agent and path, does not cut it to fit: a longer one would fail the insert (a 500).
_AXES_USERNAME_LENGTH = 255


def axes_username(request, credentials=None) -> str | None:
    """The username django-axes counts a sign-in attempt under, cut to its column width.
    No account has a username that long, so a cut name still locks only itself out."""
    from django.conf import settings

    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        username = credentials.get(field)
    else:
        username = getattr(request, "data", request.POST).get(field)
    if isinstance(username, str):
        return username[:_AXES_USERNAME_LENGTH]
    return username


def axes_lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' answer to a locked-out login: JSON 429 on the API, a page elsewhere.
    The same words whether or not the account exists."""
    from django.conf import settings

    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"code": "too_many_attempts", "message": LOGIN_LOCKED_MESSAGE}, status=429
        )
    else:
        response = HttpResponse(LOGIN_LOCKED_MESSAGE, status=429, content_type="text/plain")
    response["Retry-After"] = retry_after
    return response
