"""
Resilience helpers shared by every outbound client.

- `retry_policy()` builds a tenacity `Retrying` with exponential backoff and jitter that
  honours a server's Retry-After when the exception carries one.
- `CircuitBreaker` keeps its state in the Django cache (Redis in production), so every
  web and worker process sees the same open/closed state for a dependency. No maintained
  library shares breaker state across processes through Django's cache, hence this code.
- `RateLimiter` is a GCRA token bucket evaluated inside Redis (one Lua script, Redis's own
  clock), so one rate holds across all workers; embedded mode limits per process. While
  Redis is unreachable it degrades to the per-process limit (logged once per outage) and
  tries Redis again every RATE_LIMIT_REDIS_RETRY_SECONDS, so a Redis outage never fails
  the request the limiter guards.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis.exceptions
import tenacity
from django.conf import settings
from django.core.cache import cache as default_cache

from core.errors import ServiceUnavailableError
from core.outages import OutageLog
from core.redis import get_redis

logger = logging.getLogger(__name__)
T = TypeVar("T")


# --- retries ----------------------------------------------------------------------------


class RetryableError(Exception):
    """Raise (or subclass) to ask the retry policy for another attempt; may carry Retry-After."""

    def __init__(self, message: str = "", *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class _WaitRetryAfterOrBackoff(tenacity.wait.wait_base):
    def __init__(self, backoff: tenacity.wait.wait_base, max_wait: float):
        self.backoff = backoff
        self.max_wait = max_wait

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.max_wait)
        return self.backoff(retry_state)


def retry_policy(
    *,
    attempts: int = 3,
    initial: float = 0.5,
    maximum: float = 30.0,
    retry_on: tuple[type[BaseException], ...] = (RetryableError, ConnectionError, TimeoutError),
    sleep: Callable[[float], None] = time.sleep,
) -> tenacity.Retrying:
    """Exponential backoff with jitter (initial, 2x, 4x… capped at `maximum`), then re-raise."""
    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(attempts),
        wait=_WaitRetryAfterOrBackoff(
            tenacity.wait_exponential_jitter(multiplier=initial, max=maximum, jitter=initial),
            max_wait=maximum,
        ),
        retry=tenacity.retry_if_exception_type(retry_on),
        reraise=True,
        sleep=sleep,
        before_sleep=tenacity.before_sleep_log(logger, logging.WARNING),
    )


# --- circuit breaker --------------------------------------------------------------------


class CircuitOpenError(ServiceUnavailableError):
    code = "circuit_open"
    default_message = "The dependency is failing; calls are paused for a while."


_breakers: dict[str, CircuitBreaker] = {}


@dataclass
class CircuitBreaker:
    """
    Seed 000's policy (circuitbox's error_threshold 50, time_window 60, volume_threshold 5,
    sleep_window 30): closed → open when, over the last `window` seconds, at least
    `minimum_calls` calls were recorded and `failure_rate` of them (or more) failed;
    open → half_open after `reset_timeout`; in half_open one trial call at a time goes
    through (across all processes): success closes the breaker and forgets the window,
    failure opens it again.

    The window is kept as `buckets` counters per outcome in the cache (a sliding window
    accurate to window/buckets seconds), so every process adds to and reads the same one.
    `failure_threshold` is the older name of `minimum_calls`.
    """

    name: str
    failure_rate: float = 0.5
    minimum_calls: int = 5
    window: float = 60.0
    reset_timeout: float = 30.0
    expected_exceptions: tuple[type[BaseException], ...] = (Exception,)
    clock: Callable[[], float] = time.time
    cache: Any = field(default=None, repr=False)
    failure_threshold: int | None = None
    buckets: int = 12

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"

    def __post_init__(self) -> None:
        if self.failure_threshold is not None:
            self.minimum_calls = self.failure_threshold
        self.minimum_calls = max(int(self.minimum_calls), 1)
        _breakers[self.name] = self

    @property
    def _cache(self):
        return self.cache or default_cache

    def _key(self, part: str) -> str:
        return f"circuit:{self.name}:{part}"

    @property
    def _ttl(self) -> int:
        return max(int(self.reset_timeout * 10), 3600)

    # --- the window ---------------------------------------------------------------------

    @property
    def _bucket_seconds(self) -> float:
        return max(self.window / self.buckets, 0.001)

    def _bucket_keys(self, kind: str) -> list[str]:
        current = int(self.clock() // self._bucket_seconds)
        return [self._key(f"{kind}:{b}") for b in range(current - self.buckets + 1, current + 1)]

    def _redis(self):
        """The raw client and key maker behind Django's RedisCache, or None (another cache
        backend). Django's `incr` is an EXISTS plus an INCR and `add` one more round trip;
        counting a call on every provider send is worth one pipelined round trip instead."""
        backend = getattr(self._cache, "_cache", None)
        if not hasattr(backend, "get_client") or not hasattr(backend, "_serializer"):
            return None
        return backend

    def _count(self, kind: str, *, also_get: str | None = None) -> Any:
        """Add one to the current bucket of `kind`; with `also_get`, return that key's value
        (read in the same round trip when the cache is Redis)."""
        key = self._bucket_keys(kind)[-1]
        ttl = max(int(self.window * 2), 2)
        backend = self._redis()
        if backend is not None:
            full = self._cache.make_and_validate_key(key)
            pipe = backend.get_client(full, write=True).pipeline(transaction=False)
            pipe.incr(full)
            pipe.expire(full, ttl)
            if also_get is not None:
                pipe.get(self._cache.make_and_validate_key(also_get))
            results = pipe.execute()
            if also_get is None or results[2] is None:
                return None
            return backend._serializer.loads(results[2])
        self._cache.add(key, 0, timeout=ttl)
        try:
            self._cache.incr(key)
        except ValueError:  # expired between add and incr
            self._cache.set(key, 1, timeout=ttl)
        return self._cache.get(also_get) if also_get is not None else None

    def window_counts(self) -> tuple[int, int]:
        """(calls, failures) recorded in the current window."""
        calls_keys, failure_keys = self._bucket_keys("calls"), self._bucket_keys("failures")
        values = self._cache.get_many([*calls_keys, *failure_keys])
        calls = sum(int(values.get(k) or 0) for k in calls_keys)
        failures = sum(int(values.get(k) or 0) for k in failure_keys)
        return calls, failures

    def _forget_window(self) -> None:
        self._cache.delete_many([*self._bucket_keys("calls"), *self._bucket_keys("failures")])

    # --- state --------------------------------------------------------------------------

    @property
    def state(self) -> str:
        opened_at = self._cache.get(self._key("opened_at"))
        if opened_at is None:
            return self.CLOSED
        if self.clock() - float(opened_at) >= self.reset_timeout:
            return self.HALF_OPEN
        return self.OPEN

    def retry_after(self) -> float:
        """Seconds until the breaker half-opens (0 when closed or already half-open)."""
        opened_at = self._cache.get(self._key("opened_at"))
        if opened_at is None:
            return 0.0
        return max(0.0, self.reset_timeout - (self.clock() - float(opened_at)))

    def allow(self) -> bool:
        state = self.state
        if state == self.CLOSED:
            return True
        if state == self.HALF_OPEN:
            # One trial at a time across all processes.
            return self._cache.add(self._key("trial"), 1, timeout=max(int(self.reset_timeout), 1))
        return False

    def release_trial(self) -> None:
        """Give back a half-open trial that was admitted but never made its call."""
        self._cache.delete(self._key("trial"))

    def record_success(self) -> None:
        # Counted even while open (a call admitted before it opened): closing forgets it.
        opened_at = self._count("calls", also_get=self._key("opened_at"))
        if opened_at is not None and self.clock() - float(opened_at) >= self.reset_timeout:
            self._close()  # the half-open trial succeeded

    def record_failure(self) -> None:
        was = self.state
        if was == self.CLOSED:
            self._count("calls")
            self._count("failures")
            calls, failures = self.window_counts()
            if calls < self.minimum_calls or failures < self.failure_rate * calls:
                return
        elif was == self.OPEN:
            return
        self._cache.set(self._key("opened_at"), self.clock(), timeout=self._ttl)
        self._cache.delete(self._key("trial"))
        calls, failures = self.window_counts()
        logger.warning(
            "circuit opened",
            extra={"circuit": self.name, "calls": calls, "failures": failures, "was": was},
        )

    def _close(self) -> None:
        self._cache.delete_many([self._key("opened_at"), self._key("trial")])
        self._forget_window()
        logger.warning("circuit closed", extra={"circuit": self.name})

    def reset(self) -> None:
        self._close()

    def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self.guard():
            return func(*args, **kwargs)

    @contextmanager
    def guard(self) -> Iterator[None]:
        """`with breaker.guard(): ...` — refused while open, outcome recorded otherwise."""
        if not self.allow():
            retry_after = math.ceil(self.retry_after())
            raise CircuitOpenError(
                f"{self.name} is unavailable; retry in {retry_after}s.",
                circuit=self.name,
                retry_after=retry_after,
            )
        try:
            yield
        except self.expected_exceptions:
            self.record_failure()
            raise
        except BaseException:
            self.release_trial()
            raise
        self.record_success()


def circuit_breakers() -> dict[str, CircuitBreaker]:
    """Every breaker created in this process, by name (for /healthz and the dashboard)."""
    return dict(_breakers)


# --- rate limiting ----------------------------------------------------------------------

# GCRA: the key holds the "theoretical arrival time" (µs) of the next conforming request.
_GCRA_SCRIPT = """
local key = KEYS[1]
local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', key) or '0')
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then
  return {0, allow_at - now}
end
local new_tat = tat + emission
redis.call('SET', key, new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {1, 0}
"""


class RateLimitExceeded(ServiceUnavailableError):
    code = "rate_limited"
    status_code = 429
    default_message = "Too many requests; slow down."


# Per-process fallback state (embedded mode, or Redis unreachable): a bounded dict, not
# Django's cache, because in production that cache is the very Redis that is down.
_local_tat: dict[str, int] = {}
_local_lock = threading.Lock()
_LOCAL_MAX_KEYS = 100_000
_redis_outage = OutageLog("redis (rate limiter)")
_redis_retry_at = 0.0  # monotonic time before which the limiter does not try Redis again


def _redis_for_limits():
    """The Redis client, unless it failed within the last RATE_LIMIT_REDIS_RETRY_SECONDS."""
    client = get_redis()
    if client is not None and time.monotonic() < _redis_retry_at:
        return None
    return client


@dataclass
class RateLimiter:
    """`rate` events per `per` seconds, with bursts of up to `burst`, shared by all processes."""

    name: str
    rate: float
    per: float = 1.0
    burst: int = 1

    @property
    def emission_us(self) -> int:
        return int(self.per / self.rate * 1_000_000)

    def try_acquire(self, key: str = "") -> tuple[bool, float]:
        """Take one slot now if the rate allows; otherwise (False, seconds to wait)."""
        global _redis_retry_at
        if self.rate <= 0:
            return True, 0.0
        redis_key = f"ratelimit:{self.name}:{key}"
        tolerance = self.emission_us * (self.burst - 1)
        client = _redis_for_limits()
        if client is not None:
            try:
                allowed, wait_us = client.eval(
                    _GCRA_SCRIPT, 1, redis_key, self.emission_us, tolerance
                )
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                _redis_retry_at = time.monotonic() + settings.RATE_LIMIT_REDIS_RETRY_SECONDS
                _redis_outage.failure(exc, limiter=self.name, fallback="per-process limit")
            else:
                _redis_outage.recovered()
                return bool(allowed), int(wait_us) / 1_000_000
        return self._try_acquire_local(redis_key, tolerance)

    def _try_acquire_local(self, key: str, tolerance: int) -> tuple[bool, float]:
        with _local_lock:
            now = int(time.time() * 1_000_000)
            tat = max(_local_tat.get(key, 0), now)
            allow_at = tat - tolerance
            if now < allow_at:
                return False, (allow_at - now) / 1_000_000
            if len(_local_tat) >= _LOCAL_MAX_KEYS:
                # Drop the keys whose bucket is full again: they carry no state any more.
                for stale in [k for k, v in _local_tat.items() if v <= now]:
                    del _local_tat[stale]
                if len(_local_tat) >= _LOCAL_MAX_KEYS:
                    _local_tat.clear()
            _local_tat[key] = tat + self.emission_us
            return True, 0.0

    def acquire(self, key: str = "", *, timeout: float | None = None) -> None:
        """Block until a slot is free; raise RateLimitExceeded if that takes over `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            allowed, wait = self.try_acquire(key)
            if allowed:
                return
            if deadline is not None and time.monotonic() + wait > deadline:
                raise RateLimitExceeded(
                    f"{self.name} is over its rate", limiter=self.name, retry_after=math.ceil(wait)
                )
            time.sleep(wait)
