"""
xAPI ingest over HTTP against a COPY baseline.

Serves the app with gunicorn on 127.0.0.1 (a free port, the bench environment), then
several client threads POST statements in batches of 1 and of 50 for a bounded time
each, printing statements/s and p50/p99 latency. The baseline is PostgreSQL's COPY of the
same statements' JSON into a plain table; the last line is the median ratio
(HTTP ingest rate / COPY rate, batches of 50) over alternating pairs. Before it,
`xapi_bare_wsgi_copy_ratio` runs the same pairs against tests/benchmarks/xapi_bare_wsgi.py,
a bare WSGI app that only COPYs each batch and commits: the ceiling of that ratio on the
machine at hand, since no app that answers after a durable commit can do less.

`xapi_to_bare_wsgi_ratio` then alternates (Frontline, bare app) pairs, both servers up and
loaded in turn: the median of Frontline's rate / the bare app's, batches of 50.

Beside them, on the same server: `state_put_rate`, BENCH_XAPI_STATE_PUTS State documents
(small JSON, distinct ids over a few hundred agents) PUT by the client threads, in
documents/s, and `state_get_p95`, the 95th percentile latency of one GET of each.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from analytics.models import Statement, StatementFlat, XapiDocument  # noqa: E402
from analytics.services import xapi_credential_create  # noqa: E402

THREADS = int(os.environ.get("BENCH_XAPI_THREADS", "4"))
PHASE_SECONDS = float(os.environ.get("BENCH_XAPI_SECONDS", "4"))
PAIRS = int(os.environ.get("BENCH_XAPI_PAIRS", "5"))
PAIR_SECONDS = float(os.environ.get("BENCH_XAPI_PAIR_SECONDS", "3"))
STATE_PUTS = int(os.environ.get("BENCH_XAPI_STATE_PUTS", "2000"))


def make_statement(n: int) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "actor": {
            "objectType": "Agent",
            "name": f"Learner {n % 5000}",
            "account": {"homePage": "https://frontline.example", "name": f"learner:{n % 5000}"},
        },
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en-US": "answered"}},
        "object": {
            "objectType": "Activity",
            "id": f"https://frontline.example/xapi/activities/lessons/{n % 300}/question",
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                "interactionType": "choice",
                "name": {"en-US": f"Question {n % 300}"},
            },
        },
        "result": {"success": n % 3 != 0, "response": str(n % 4), "duration": "PT12.5S"},
        "context": {
            "platform": "Frontline",
            "registration": str(uuid.uuid5(uuid.NAMESPACE_URL, f"path:{n % 5000}")),
            "contextActivities": {
                "parent": [{"id": f"https://frontline.example/xapi/activities/lessons/{n % 300}"}]
            },
            "extensions": {"https://frontline.example/xapi/extensions/channel": "slack"},
        },
        "timestamp": "2026-11-22T09:30:00.000Z",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, app: str = "config.wsgi", **extra_env: str) -> subprocess.Popen:
    env = dict(os.environ, GUNICORN_BIND=f"127.0.0.1:{port}", LOG_LEVEL="WARNING", **extra_env)
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            app,
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--access-logfile",
            "/dev/null",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/xapi/about", timeout=1).ok:
                return server
        except requests.RequestException:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not start")


def make_batches(count: int, batch_size: int) -> list[str]:
    """Request bodies made up front, so client threads spend their time on HTTP."""
    return [
        json.dumps([make_statement(n * batch_size + i) for i in range(batch_size)])
        for n in range(count)
    ]


def post_for(url: str, auth, bodies: list[str], seconds: float) -> tuple[float, list[float], list]:
    """THREADS clients POST `bodies` for up to `seconds`: (statements/s, latencies, sent)."""
    duration, latencies, sent = send_all("POST", [(url, body) for body in bodies], auth, seconds)
    statements = sum(len(json.loads(body)) for _, body in sent)
    return statements / duration, latencies, [body for _, body in sent]


def copy_rate(bodies: list[str]) -> float:
    """COPY the same statements' JSON, one row per statement, into a plain table."""
    rows = [json.dumps(statement) for body in bodies for statement in json.loads(body)]
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE bench_xapi_copy")
    started = time.perf_counter()
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy("COPY bench_xapi_copy (doc) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row((row,))
    return len(rows) / (time.perf_counter() - started)


def start_bare_server() -> tuple[subprocess.Popen, str]:
    """The bare WSGI app (tests/benchmarks/xapi_bare_wsgi.py) on a free port: (server, URL)."""
    from urllib.parse import quote

    settings = connection.settings_dict
    database_url = (
        f"postgresql://{quote(settings['USER'] or '')}:{quote(settings['PASSWORD'] or '')}"
        f"@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"
    )
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_xapi_bare (doc jsonb)")
    port = free_port()
    server = start_server(port, "tests.benchmarks.xapi_bare_wsgi", BARE_DATABASE_URL=database_url)
    return server, f"http://127.0.0.1:{port}/xapi/statements"


def bare_ratios(url: str, auth, rate_50: float) -> list[float]:
    """(COPY, bare WSGI app) pairs on the same statements: the ceiling of the ratio here."""
    ratios = []
    for _ in range(PAIRS):
        bodies = make_batches(int(rate_50 * 3 * PAIR_SECONDS / 50 * 1.3) + 4, 50)
        baseline = copy_rate(bodies)
        bare, _latencies, _sent = post_for(url, auth, bodies, PAIR_SECONDS)
        ratios.append(bare / baseline)
    return ratios


def app_to_bare_ratios(url: str, bare_url: str, auth, rate_50: float) -> list[float]:
    """(Frontline, bare WSGI app) pairs, both served at once and loaded in turn (which goes
    first alternates), on batches of 50 of the same shape: Frontline's rate / the bare app's."""
    ratios = []
    for n in range(max(PAIRS, 5)):
        bodies = make_batches(int(rate_50 * PAIR_SECONDS / 50 * 1.3) + 4, 50)
        bare_bodies = make_batches(int(rate_50 * 3 * PAIR_SECONDS / 50 * 1.3) + 4, 50)
        if n % 2:
            bare, _latencies, _sent = post_for(bare_url, auth, bare_bodies, PAIR_SECONDS)
            project, _latencies, _sent = post_for(url, auth, bodies, PAIR_SECONDS)
        else:
            project, _latencies, _sent = post_for(url, auth, bodies, PAIR_SECONDS)
            bare, _latencies, _sent = post_for(bare_url, auth, bare_bodies, PAIR_SECONDS)
        ratios.append(project / bare)
    return ratios


def send_all(
    method: str, work: list[tuple[str, str | None]], auth, seconds: float | None = None
) -> tuple[float, list[float], list[tuple[str, str | None]]]:
    """THREADS clients send each (url, body) of `work`, for up to `seconds` if given:
    (duration, latencies, what was sent and answered 200/204)."""
    stop_at = time.monotonic() + seconds if seconds is not None else float("inf")
    latencies: list[float] = []
    sent: list[tuple[str, str | None]] = []
    errors: list[str] = []
    lock = threading.Lock()
    queue = iter(work)

    def client() -> None:
        session = requests.Session()
        session.auth = auth
        session.headers.update(
            {"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"}
        )
        while time.monotonic() < stop_at:
            with lock:
                item = next(queue, None)
            if item is None:
                return
            url, body = item
            started = time.perf_counter()
            response = session.request(method, url, data=body)
            elapsed = time.perf_counter() - started
            with lock:
                if response.status_code in (200, 204):
                    latencies.append(elapsed)
                    sent.append(item)
                else:
                    errors.append(f"{response.status_code} {response.text[:200]}")

    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    duration = time.perf_counter() - began
    if errors:
        raise SystemExit(f"{len(errors)} failed {method} requests, e.g. {errors[0]}")
    return duration, latencies, sent


def state_bench(base: str, auth) -> tuple[float, list[float]]:
    """STATE_PUTS State PUTs, then one GET of each: (documents/s, GET latencies)."""
    from urllib.parse import urlencode

    XapiDocument.objects.all().delete()
    urls = []
    for n in range(STATE_PUTS):
        agent = {"account": {"homePage": "https://frontline.example", "name": f"learner:{n % 400}"}}
        query = {
            "activityId": f"https://frontline.example/xapi/activities/lessons/{n % 50}",
            "agent": json.dumps(agent),
            "stateId": f"bookmark-{n}",
        }
        urls.append(f"{base}/activities/state?{urlencode(query)}")
    body = json.dumps({"page": 7, "answers": ["b", "d", "a"], "suspend_data": "x" * 400})
    duration, _, sent = send_all("PUT", [(url, body) for url in urls], auth)
    _, latencies, _ = send_all("GET", [(url, None) for url in urls], auth)
    return len(sent) / duration, latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_xapi_copy (doc jsonb)")
    StatementFlat.objects.all().delete()
    Statement.objects.all().delete()
    issued = xapi_credential_create(
        name="bench", scopes=["all"], rate_per_minute=10_000_000, burst=1_000_000
    )
    auth = (issued.credential.key, issued.secret)
    port = free_port()
    server = start_server(port)
    url = f"http://127.0.0.1:{port}/xapi/statements"
    try:
        post_for(url, auth, make_batches(40, 50), 1.0)  # warm up workers and connections
        rate_50 = 1000.0
        for batch_size in (1, 50):
            bodies = make_batches(int(12_000 * PHASE_SECONDS / batch_size) + 100, batch_size)
            rate, latencies, _ = post_for(url, auth, bodies, PHASE_SECONDS)
            rate_50 = rate
            print(f"xapi_post_batch{batch_size}_rate: {rate:.0f} statements/s")
            print(f"xapi_post_batch{batch_size}_p50: {percentile(latencies, 0.5) * 1000:.1f} ms")
            print(f"xapi_post_batch{batch_size}_p99: {percentile(latencies, 0.99) * 1000:.1f} ms")
        ratios, copy_rates = [], []
        for _ in range(PAIRS):
            # (baseline, project) on the same statements: COPY them, then POST them
            bodies = make_batches(int(rate_50 * PAIR_SECONDS / 50 * 1.3) + 4, 50)
            baseline = copy_rate(bodies)
            project, _latencies, _sent = post_for(url, auth, bodies, PAIR_SECONDS)
            copy_rates.append(baseline)
            ratios.append(project / baseline)
        print(f"copy_jsonb_rate: {statistics.median(copy_rates):.0f} statements/s")
        state_rate, state_latencies = state_bench(f"http://127.0.0.1:{port}/xapi", auth)
        print(f"state_put_rate: {state_rate:.0f} documents/s")
        print(f"state_get_p95: {percentile(state_latencies, 0.95) * 1000:.1f} ms")
        # The same pairs against a bare WSGI app that only COPYs and commits: what the ratio
        # can be at most on this machine with these clients, whatever the app does.
        bare_server, bare_url = start_bare_server()
        try:
            post_for(bare_url, auth, make_batches(40, 50), 1.0)
            bare_copy = statistics.median(bare_ratios(bare_url, auth, rate_50))
            to_bare = statistics.median(app_to_bare_ratios(url, bare_url, auth, rate_50))
        finally:
            bare_server.terminate()
            bare_server.wait(20)
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS bench_xapi_bare")
        print(f"xapi_bare_wsgi_copy_ratio: {bare_copy:.3f}")
        # Frontline against that app directly, pair by pair (the figure to watch: COPY's
        # own rate moves with the machine's load more than either server's does).
        print(f"xapi_to_bare_wsgi_ratio: {to_bare:.3f}")
        print(f"ratio: {statistics.median(ratios):.3f}")
    finally:
        server.terminate()
        server.wait(20)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_xapi_copy")


if __name__ == "__main__":
    main()
