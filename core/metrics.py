"""
The web tier's error rate: responses and 5xx responses per minute, across every process.

Each process counts in memory (a dict increment per response, nothing on the network) and
adds its counts to per-minute Redis hashes at most every METRICS_FLUSH_SECONDS, from the
end of a request. /healthz sums the last HEALTH_ERROR_RATE_MINUTES of those hashes plus
this process's unflushed counts. Without Redis (embedded mode) the figure is this
process's own. A flush that fails keeps its counts for the next one (a Redis outage loses
nothing but freshness; the minutes kept are bounded).

Hand-written because the figure is two counters: a metrics client library (Prometheus,
StatsD) would bring a server to run for it.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

from core.outages import OutageLog

_KEY = "metrics:responses:{minute}"
_KEEP_MINUTES = 120

_lock = threading.Lock()
_pending: dict[int, list[int]] = {}  # minute -> [responses, 5xx responses], not yet in Redis
_last_flush = 0.0
_outage = OutageLog("redis (response metrics)")


def _minute(now: float | None = None) -> int:
    return int((now if now is not None else time.time()) // 60)


def record_response(status_code: int) -> None:
    """Count one response; flush to Redis when the last flush is old enough."""
    minute = _minute()
    with _lock:
        counts = _pending.get(minute)
        if counts is None:
            counts = _pending[minute] = [0, 0]
        counts[0] += 1
        if status_code >= 500:
            counts[1] += 1
        due = time.monotonic() - _last_flush >= settings.METRICS_FLUSH_SECONDS
    if due:
        flush()


def flush() -> None:
    from core.redis import get_redis

    global _last_flush
    client = get_redis()
    with _lock:
        _last_flush = time.monotonic()
        if client is None or not _pending:
            return
        batch = dict(_pending)
        _pending.clear()
    try:
        pipe = client.pipeline(transaction=False)
        for minute, (total, errors) in batch.items():
            key = _KEY.format(minute=minute)
            pipe.hincrby(key, "responses", total)
            if errors:
                pipe.hincrby(key, "errors", errors)
            pipe.expire(key, _KEEP_MINUTES * 60)
        pipe.execute()
    except Exception as exc:
        _outage.failure(exc)
        with _lock:
            oldest = _minute() - _KEEP_MINUTES
            for minute, (total, errors) in batch.items():
                if minute >= oldest:
                    counts = _pending.setdefault(minute, [0, 0])
                    counts[0] += total
                    counts[1] += errors
        return
    _outage.recovered()


def error_rate(*, minutes: int | None = None) -> dict:
    """Share of 5xx responses over the last `minutes` minutes (this one included)."""
    from core.redis import get_redis

    minutes = minutes or settings.HEALTH_ERROR_RATE_MINUTES
    current = _minute()
    window = range(current - minutes + 1, current + 1)
    total = errors = 0
    with _lock:
        for minute in window:
            local = _pending.get(minute)
            if local:
                total += local[0]
                errors += local[1]
    client = get_redis()
    scope = "process"
    if client is not None:
        pipe = client.pipeline(transaction=False)
        for minute in window:
            pipe.hmget(_KEY.format(minute=minute), "responses", "errors")
        for responses, failed in pipe.execute():
            total += int(responses or 0)
            errors += int(failed or 0)
        scope = "all web processes"
    return {
        "window_minutes": minutes,
        "responses": total,
        "server_errors": errors,
        "rate": round(errors / total, 4) if total else 0.0,
        "scope": scope,
    }


def reset() -> None:
    """Forget this process's unflushed counts (tests)."""
    global _last_flush
    with _lock:
        _pending.clear()
        _last_flush = 0.0
