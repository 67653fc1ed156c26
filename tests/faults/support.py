"""Real processes for fault tests: a private redis-server, a free port, a readiness wait.

The shared PostgreSQL and Redis on 127.0.0.1 are never stopped or reconfigured: a fault
test that needs Redis to die starts its own `redis-server` on a free port and kills that.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], bool], *, timeout: float = 10.0, interval: float = 0.05) -> None:
    """Poll `check` until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s: {check}")


@dataclass
class PrivateRedis:
    """A redis-server of the test's own, on a free port, that the test may stop and restart."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    directory: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="fault-redis-"))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=2)

    def start(self) -> PrivateRedis:
        assert self.process is None or self.process.poll() is not None, "already running"
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: self.client().ping())
        return self

    def stop(self) -> None:
        """Kill the server at once (SIGKILL): clients see connection errors, not a goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _temporary_file(prefix: str, suffix: str) -> str:
    import os

    descriptor, path = tempfile.mkstemp(prefix=prefix, suffix=suffix)
    os.close(descriptor)
    return path


@dataclass
class CeleryWorker:
    """A real `celery -A config worker` subprocess with the environment given (its own
    process group, so `kill()` takes the pool's children down with it, like a lost node)."""

    env: dict[str, str]
    queues: str = "default,deliveries"
    concurrency: int = 2
    process: subprocess.Popen | None = None
    log: str = field(default_factory=lambda: _temporary_file("fault-worker-", ".log"))

    def start(self) -> CeleryWorker:
        import os
        import sys
        from pathlib import Path

        root = Path(__file__).resolve().parents[2]
        celery = Path(sys.executable).with_name("celery")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    str(celery),
                    "-A",
                    "config",
                    "worker",
                    "-Q",
                    self.queues,
                    "-c",
                    str(self.concurrency),
                    "--pool",
                    "prefork",
                    "--without-heartbeat",
                    "--without-mingle",
                    "--without-gossip",
                    "-l",
                    self.env.get("LOG_LEVEL", "WARNING"),
                ],
                cwd=root,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def ready(self) -> bool:
        """The worker has started consuming (it logs "<name> ready." at INFO)."""
        return "ready." in self.output()

    def kill(self) -> None:
        """SIGKILL the worker and its pool at once: no shutdown, no acks, no cleanup."""
        import os
        import signal

        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def output(self) -> str:
        with contextlib.suppress(OSError), open(self.log, errors="replace") as log:
            return log.read()
        return ""
