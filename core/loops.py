"""
Long-running loops (stream consumers and other `manage.py` daemons) that outlive the
blips of their dependencies.

`run_forever(step, name=...)` calls `step()` until `stop()` says so. When a step fails
because Redis, PostgreSQL or the broker is unreachable (core.outages.dependency_down), the
loop drops its database connections, logs the reconnect attempt and waits with
exponential backoff and jitter (RECONNECT_INITIAL_SECONDS doubling to
RECONNECT_MAX_SECONDS) before the next step; the first step that works again logs the
recovery and resets the backoff. Any other error is logged with its traceback and
retried at the longest backoff, so one bad pass never ends the process either.

Hand-written rather than tenacity: tenacity retries one call until it succeeds or gives
up, while this loop never gives up and must keep running steps after a success.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connections

from core.outages import dependency_down

logger = logging.getLogger(__name__)


def _drop_database_connections() -> None:
    for connection in connections.all(initialized_only=True):
        try:
            connection.close()
        except Exception:  # a connection to a server that went away may fail to close
            connection.connection = None


def run_forever(
    step: Callable[[], Any],
    *,
    name: str,
    stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
    initial: float | None = None,
    maximum: float | None = None,
) -> None:
    initial = settings.RECONNECT_INITIAL_SECONDS if initial is None else initial
    maximum = settings.RECONNECT_MAX_SECONDS if maximum is None else maximum
    failures = 0
    while not stop():
        try:
            step()
        except Exception as exc:
            failures += 1
            dependency = dependency_down(exc)
            if dependency is None and "NOGROUP" in str(exc):
                dependency = "redis"  # Redis restarted empty: the next step recreates the group
            delay = min(maximum, initial * 2 ** (failures - 1))
            delay = delay / 2 + random.uniform(0, delay / 2)
            _drop_database_connections()
            if dependency is None:
                delay = maximum
                logger.exception("loop step failed", extra={"loop": name, "failures": failures})
            logger.warning(
                "reconnecting",
                extra={
                    "loop": name,
                    "dependency": dependency or "unknown",
                    "attempt": failures,
                    "retry_in_seconds": round(delay, 2),
                    "error": f"{type(exc).__name__}: {exc}"[:300],
                },
            )
            sleep(delay)
            continue
        if failures:
            logger.warning("reconnected", extra={"loop": name, "after_failures": failures})
            failures = 0
