"""A real gunicorn with the project's gunicorn.conf.py: slow clients do not stall it."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.faults.support import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
# Generous: this bounds a hang, it does not measure speed.
ANSWER_TIMEOUT = 20


@pytest.fixture(scope="module")
def gunicorn(django_db_setup, tmp_path_factory):
    """One server for the module, on the test database (it only reads: health, auth)."""
    port = free_port()
    database = connection.settings_dict
    env = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
        f"/{database['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    env.pop("WEB_CONCURRENCY", None)
    env.pop("GUNICORN_THREADS", None)
    log = (tmp_path_factory.mktemp("gunicorn") / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "config.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: _get(port, "/healthz", timeout=2)[0] > 0, timeout=60, interval=0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _get(port: int, path: str, *, timeout: float = ANSWER_TIMEOUT) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _half_sent_body(port: int) -> socket.socket:
    """A POST that announces 10 KB and sends 20 bytes of it, then waits."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT)
    sock.sendall(
        b"POST /api/v1/auth/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n"
        b'{"username": "slow",'
    )
    return sock


def test_half_sent_bodies_do_not_stall_healthz(gunicorn):
    # given: more half-sent bodies than the old sync workers (2) could hold
    slow = [_half_sent_body(gunicorn) for _ in range(3)]
    try:
        # when / then: /healthz still answers, again and again
        for _ in range(3):
            status, body = _get(gunicorn, "/healthz")
            assert status in (200, 503)
            assert "status" in json.loads(body)
        # and so does the API
        status, _ = _get(gunicorn, "/api/v1/auth/whoami/")
        assert status == 401
    finally:
        for sock in slow:
            with contextlib.suppress(OSError):
                sock.close()


def test_malformed_input_through_a_real_server_is_a_400(gunicorn):
    for path in (b"/api/v1/auth/whoami/%00", b"/api/v1/auth/whoami/%FF", b"/healthz?q=%00"):
        response = _raw(
            gunicorn, b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        assert response.startswith(b"HTTP/1.1 400"), (path, response[:200])
    body = b'{"username": ' + b"[" * 2048 + b"]" * 2048 + b', "password": "x"}'
    response = _raw(
        gunicorn,
        b"POST /api/v1/auth/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body,
    )
    assert response.startswith(b"HTTP/1.1 400"), response[:300]
    assert b'"too_deep"' in response
