"""Real Frontline processes for the core fault tests (gunicorn, `manage.py` commands), and
the in-process app pointed at a private redis-server.

Children get the test database (committed data only: use `transaction=True` tests) and the
Redis the test chooses through their environment, exactly as production passes them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection
from django.test import override_settings

from tests.faults.support import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    """The URL of the database this test runs against (pytest-django's test database)."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def child_env(**overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "SECRET_KEY": "test-only-secret-key-not-for-production-use-0123456789",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
    )


@dataclass
class Child:
    """A long-running child process whose output goes to a file the test can read."""

    args: list[str]
    env: dict[str, str]
    process: subprocess.Popen | None = None
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="fault-child-")[1]))

    def start(self) -> Child:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.args, stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT
            )
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    stop_signal: int = signal.SIGTERM

    def stop(self) -> None:
        if self.alive:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.unlink(missing_ok=True)


@dataclass
class Gunicorn(Child):
    """gunicorn config.wsgi on a free port, one worker (the project's gunicorn.conf.py)."""

    port: int = field(default_factory=free_port)
    stop_signal: int = signal.SIGQUIT  # gunicorn's quick shutdown: the test is over

    @classmethod
    def with_env(cls, env: dict[str, str]) -> Gunicorn:
        port = free_port()
        env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"}
        return cls(args=[sys.executable, "-m", "gunicorn", "config.wsgi"], env=env, port=port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Gunicorn:
        super().start()

        def answers() -> bool:
            assert self.alive, self.output()
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(f"{self.url}/healthz", timeout=2)
            return True

        wait_until(answers, timeout=90, interval=0.1)
        return self


def _reset_celery_connections() -> None:
    from config.celery_app import app

    # Only drop the references: kombu keeps one pool per broker URL in a registry, and a
    # closed pool would be handed back the next time that URL is used.
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def app_on_redis(url: str) -> Iterator[None]:
    """Point this process's Redis users at `url`: core.redis.get_redis (streams, limiters,
    outbox flag), Django's cache (breakers, throttles) and Celery's broker; restore after."""
    from django.conf import settings

    from config.celery_app import app
    from core import lockouts, resilience
    from core.api import throttling
    from core.redis import get_redis

    broker = app.conf.broker_url
    caches = {"default": {**settings.CACHES["default"], "LOCATION": url}}
    get_redis.cache_clear()
    try:
        with override_settings(REDIS_URL=url, CACHES=caches):
            app.conf.broker_url = url
            _reset_celery_connections()
            yield
    finally:
        app.conf.broker_url = broker
        _reset_celery_connections()
        get_redis.cache_clear()
        resilience._redis_retry_at = 0.0
        resilience._redis_outage.recovered()
        throttling._cache.reset()
        lockouts._cache.reset()


def xapi_headers(key: str, secret: str) -> dict[str, str]:
    import base64

    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    return {
        "Authorization": f"Basic {token}",
        "X-Experience-API-Version": "1.0.3",
        "Content-Type": "application/json",
    }


def http(method: str, url: str, *, body: bytes | None = None, headers=None, timeout: float = 10):
    """(status, headers, body) of one HTTP request, 4xx/5xx included."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def terminate_test_database_backends() -> int:
    """pg_terminate_backend every other backend of this test's own database (never another
    database's); returns how many were terminated."""
    import psycopg

    s = connection.settings_dict
    with psycopg.connect(
        host=s["HOST"] or "127.0.0.1",
        port=s["PORT"] or 5432,
        user=s["USER"],
        password=s.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            [s["NAME"]],
        ).fetchall()
    return sum(1 for (done,) in rows if done)
