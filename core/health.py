"""Health checks for /healthz: database, cache and broker, each with its latency; the
scheduler's heartbeat, circuit breaker states, and the sections apps register (ETL lag)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

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


def _timed(check: Callable[[], None]) -> CheckResult:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:
        return CheckResult("error", _ms(started), f"{type(exc).__name__}: {exc}"[:300])
    return CheckResult("ok", _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def check_database() -> CheckResult:
    def probe() -> None:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    result = _timed(probe)
    if not result.ok:
        # Drop the broken connection so the next request reconnects cleanly.
        connections["default"].close_if_unusable_or_obsolete()
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
    from core.models import Heartbeat

    try:
        beat = Heartbeat.objects.filter(name="beat").first()
    except Exception:
        return {"status": "unknown"}
    if beat is None:
        return {"status": "never_seen"}
    age = (timezone.now() - beat.seen_at).total_seconds()
    return {"status": "ok" if age < 120 else "stale", "age_seconds": round(age, 1)}


CHECKS: dict[str, Callable[[], CheckResult]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
}

# Sections the domain apps add to /healthz without core importing them: each app's
# `health` module (found by autodiscovery, like admin.py) calls register_section(). A
# section returns a dict whose "status" is "ok" or "warn"; "warn" makes the overall status
# "degraded" (still HTTP 200: a lagging ETL is no reason to pull a web node), and a
# section that raises is reported as "unknown", never fatal.
SECTIONS: dict[str, Callable[[], dict]] = {}
_discovered = False


def register_section(name: str, section: Callable[[], dict]) -> None:
    SECTIONS[name] = section


def discover_sections() -> dict[str, Callable[[], dict]]:
    """Import every installed app's `health` module once (they register sections and
    create their circuit breakers, so breaker states show in every process)."""
    global _discovered
    if not _discovered:
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("health")
        _discovered = True
    return SECTIONS


def _run_section(section: Callable[[], dict]) -> dict:
    try:
        return section()
    except Exception as exc:
        return {"status": "unknown", "error": f"{type(exc).__name__}: {exc}"[:300]}


def run_checks() -> tuple[bool, dict]:
    results = {name: check() for name, check in CHECKS.items()}
    healthy = all(r.ok for r in results.values())
    body: dict = {
        "status": "ok" if healthy else "error",
        "checks": {name: r.as_dict() for name, r in results.items()},
        "mode": "embedded" if settings.EMBEDDED else "production",
    }
    sections = discover_sections()
    if results["database"].ok:
        body["scheduler"] = beat_last_seen()
        for name, section in sections.items():
            body[name] = _run_section(section)
        if healthy and any(body[name].get("status") == "warn" for name in sections):
            body["status"] = "degraded"
    from core.resilience import circuit_breakers

    body["circuit_breakers"] = {name: b.state for name, b in sorted(circuit_breakers().items())}
    return healthy, body
