"""
Health checks for /healthz.

Dependencies, each with its latency: database, cache, broker; then the scheduler's
heartbeat (stale past HEALTH_BEAT_STALE_SECONDS) and the sections apps register (the ETL's
lag). Any of them failing makes /healthz 503 and names it in `failing`. Beside them, for
operators: messages waiting per Celery queue, dead letters of the last hour (sources apps
register), the web tier's share of 5xx responses and failed job runs of the last hour, and
each circuit breaker's state.

Everything is computed inside a guard: a probe that raises is reported as that probe's
error (or "unknown"), never as a 500 of /healthz itself.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.utils import timezone


@dataclass
class CheckResult:
    status: str  # "ok" or "error"
    latency_ms: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict:
        data = asdict(self)
        if not self.error:
            data.pop("error")
        return data


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _timed(check: Callable[[], None]) -> CheckResult:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:
        return CheckResult("error", _ms(started), _describe(exc))
    return CheckResult("ok", _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _guarded(compute: Callable[[], Any]) -> Any:
    try:
        return compute()
    except Exception as exc:
        return {"status": "unknown", "error": _describe(exc)}


def check_database() -> CheckResult:
    def probe() -> None:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    result = _timed(probe)
    if not result.ok:
        # Drop the broken connection so the next request reconnects cleanly.
        try:
            connections["default"].close_if_unusable_or_obsolete()
        except Exception:  # closing a dead connection can fail too; it is dropped either way
            connections["default"].connection = None
    return result


def check_cache() -> CheckResult:
    def probe() -> None:
        key = f"healthz:{uuid.uuid4().hex}"
        cache.set(key, "1", timeout=5)
        if cache.get(key) != "1":
            raise RuntimeError("cache did not return the value just written")
        cache.delete(key)

    return _timed(probe)


def check_broker() -> CheckResult:
    from config.celery_app import app

    def probe() -> None:
        url = app.conf.broker_url
        if url.startswith("filesystem://"):
            folder = Path(app.conf.broker_transport_options["data_folder_in"])
            if not folder.is_dir():
                raise RuntimeError(f"broker folder {folder} is missing")
            return
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            conn.default_channel  # noqa: B018 - opening a channel proves the broker answers

    return _timed(probe)


def beat_last_seen() -> dict:
    """Beat's heartbeat: "ok", "stale" (older than HEALTH_BEAT_STALE_SECONDS), "never_seen"
    (a fresh install whose beat has not started) or "unknown" (no database)."""
    from core.models import Heartbeat

    try:
        beat = Heartbeat.objects.filter(name="beat").first()
    except Exception:
        return {"status": "unknown"}
    if beat is None:
        return {"status": "never_seen"}
    age = (timezone.now() - beat.seen_at).total_seconds()
    threshold = settings.HEALTH_BEAT_STALE_SECONDS
    return {
        "status": "ok" if age < threshold else "stale",
        "age_seconds": round(age, 1),
        "stale_after_seconds": threshold,
    }


# --- queues -----------------------------------------------------------------------------


def broker_queue_names() -> list[str]:
    """The Celery queues tasks are routed to: the default queue and every routed one."""
    from config.celery_app import app

    names = [app.conf.task_default_queue]
    for queue in app.conf.task_queues or []:
        if queue.name not in names:
            names.append(queue.name)
    for route in (app.conf.task_routes or {}).values():
        queue = route.get("queue") if isinstance(route, dict) else None
        if queue and queue not in names:
            names.append(queue)
    return names


def queue_depths() -> dict[str, Any]:
    """Messages waiting per Celery queue, read from the broker (Redis lists or the
    filesystem transport's folder) with kombu's passive queue declaration."""
    from kombu.exceptions import ChannelError

    from config.celery_app import app

    queues = []
    with app.connection_for_read() as conn:
        if not app.conf.broker_url.startswith("filesystem://"):
            conn.ensure_connection(max_retries=1, timeout=2)
        channel = conn.default_channel
        for name in broker_queue_names():
            try:
                _, depth, _ = channel.queue_declare(queue=name, passive=True)
            except ChannelError:  # Redis: an empty queue is no key at all
                depth = 0
            queues.append({"name": name, "depth": int(depth)})
    return {
        "queues": queues,
        "total": sum(q["depth"] for q in queues),
        "transport": app.conf.broker_url.split("://", 1)[0],
    }


# --- what apps contribute ---------------------------------------------------------------

# Sections the domain apps add to /healthz without core importing them: each app's
# `health` module (found by autodiscovery, like admin.py) calls register_section(). A
# section returns a dict whose "status" is "ok", "warn" (overall "degraded", still 200)
# or "error" (the section is named in `failing` and /healthz answers 503); a section that
# raises is reported as "unknown", never fatal.
SECTIONS: dict[str, Callable[[], dict]] = {}
# Dead-letter sources: name -> counter(since) giving how many items became dead letters
# since then (delivery tasks, report deliveries, ...).
DEAD_LETTER_SOURCES: dict[str, Callable[[datetime], int]] = {}
_discovered = False


def register_section(name: str, section: Callable[[], dict]) -> None:
    SECTIONS[name] = section


def register_dead_letters(
    name: str, counter: Callable[[datetime], int], *, fallback: bool = False
) -> None:
    """Add a dead-letter source to /healthz. A `fallback` registration (another app reading
    the owner's table) gives way to one the owning app makes under the same name."""
    if fallback and name in DEAD_LETTER_SOURCES:
        return
    DEAD_LETTER_SOURCES[name] = counter


def discover_sections() -> dict[str, Callable[[], dict]]:
    """Import every installed app's `health` module once (they register sections and
    create their circuit breakers, so breaker states show in every process)."""
    global _discovered
    if not _discovered:
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("health")
        _discovered = True
    return SECTIONS


def dead_letters(*, since: datetime) -> dict[str, Any]:
    by_source: dict[str, Any] = {}
    for name, counter in sorted(DEAD_LETTER_SOURCES.items()):
        try:
            by_source[name] = int(counter(since))
        except Exception as exc:
            by_source[name] = {"status": "unknown", "error": _describe(exc)}
    total = sum(v for v in by_source.values() if isinstance(v, int))
    return {"since": since.isoformat(), "total": total, "by_source": by_source}


def job_run_failures(*, since: datetime) -> dict[str, Any]:
    from core.models import JobRun

    recent = JobRun.objects.filter(started_at__gte=since)
    failed = recent.filter(status=JobRun.Status.FAILED).count()
    finished = recent.exclude(status=JobRun.Status.RUNNING).count()
    return {"since": since.isoformat(), "failed": failed, "finished": finished}


def breaker_states() -> dict[str, str]:
    from core.resilience import circuit_breakers

    states = {}
    for name, breaker in sorted(circuit_breakers().items()):
        try:
            states[name] = breaker.state
        except Exception:  # its state lives in the cache, which may be the thing that is down
            states[name] = "unknown"
    return states


# --- the report -------------------------------------------------------------------------


def run_checks() -> tuple[bool, dict]:
    """(healthy, body) for /healthz; `healthy` is False when anything in `failing`."""
    results = {name: check() for name, check in CHECKS.items()}
    failing = [name for name, result in results.items() if not result.ok]
    body: dict = {
        "status": "ok",
        "failing": failing,
        "checks": {name: r.as_dict() for name, r in results.items()},
        "mode": "embedded" if settings.EMBEDDED else "production",
    }
    try:
        sections = discover_sections()
    except Exception:  # an app's health module failed to import: report the rest
        sections = SECTIONS
    warn = False
    hour_ago = timezone.now() - timedelta(hours=1)
    if results["database"].ok:
        body["scheduler"] = _guarded(beat_last_seen)
        if body["scheduler"].get("status") == "stale":
            failing.append("scheduler")
        for name, section in sections.items():
            body[name] = _guarded(section)
            status = body[name].get("status")
            if status == "error":
                failing.append(name)
            warn = warn or status == "warn"
        body["dead_letters"] = _guarded(lambda: dead_letters(since=hour_ago))
        body["job_runs"] = _guarded(lambda: job_run_failures(since=hour_ago))
    if results["broker"].ok:
        body["queues"] = _guarded(queue_depths)
    if results["cache"].ok:
        from core.metrics import error_rate

        body["error_rate"] = _guarded(error_rate)
    body["circuit_breakers"] = _guarded(breaker_states)
    if failing:
        body["status"] = "error"
    elif warn:
        body["status"] = "degraded"
    return not failing, body


CHECKS: dict[str, Callable[[], CheckResult]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
}
