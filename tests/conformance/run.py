"""
`make conformance`: the ADL LRS conformance suite against a throwaway Frontline.

For each xAPI version in CONFORMANCE_VERSIONS (default "1.0.3 2.0.0"), on a database of its
own: create and migrate it, set up the roles, issue an xAPI credential (scope `all`, no rate
limit: the suite bursts), serve Frontline with gunicorn (gunicorn.conf.py) on a free port,
copy the suite to a scratch folder, install its node modules (cached under
var/conformance/node_modules/), run `bin/console_runner.js` under a watchdog, and read its
JSON log. The database is dropped at the end, whatever happened.

The suite's exit code is its failure count modulo 256, and a failing `before` hook counts as
one failure while hiding every test under it: the figures here come from the log, and the
tests that never ran (expected total minus passed minus failed) count as failed.

Environment:
  CONFORMANCE_VERSIONS   xAPI versions to run, space separated ("1.0.3 2.0.0")
  CONFORMANCE_GREP       passed to the suite as -g (only tests whose title matches)
  CONFORMANCE_TIMEOUT    seconds before the watchdog stops a version's run (2400)
  CONFORMANCE_SUITE      a checkout of the suite (default: ../shared/lrs-conformance beside
                         the project or its main checkout, else a clone from GitHub)
  CONFORMANCE_REDIS_URL  Redis for the server, a database number nobody else uses
  DATABASE_URL           where to create the throwaway database (server and user only)

Output: passed/failed per top-level describe of the suite, a line per version, and last
`conformance: N passed, N failed`; failing titles and messages go to
var/conformance/failures-<version>.txt. Exit status 0 only when nothing failed.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
VAR = ROOT / "var" / "conformance"
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
SUITE_REPOSITORY = "https://github.com/adlnet/lrs-conformance-test-suite"
SUITE_COMMIT = "2ec25f2e"
# Tests in the suite at SUITE_COMMIT, per version (its own count at start, without -g).
EXPECTED_TOTALS = {"1.0.3": 1365, "2.0.0": 1442}
CREDENTIAL_SCRIPT = """
import json
from analytics.services import xapi_credential_create
issued = xapi_credential_create(name="ADL conformance suite", scopes=["all"], rate_per_minute=0)
print(json.dumps({"key": issued.credential.key, "secret": issued.secret}))
"""


def say(message: str) -> None:
    print(message, flush=True)


# --- the throwaway database -------------------------------------------------------------


class ThrowawayDatabase:
    """A fresh PostgreSQL database named uniquely, dropped on exit even after a failure."""

    def __init__(self, base_url: str, version: str) -> None:
        parts = urlsplit(base_url)
        self.name = f"frontline_conformance_{version.replace('.', '')}_{secrets.token_hex(4)}"
        self.admin_url = parts._replace(path="/postgres").geturl()
        self.url = parts._replace(path=f"/{self.name}").geturl()

    def __enter__(self) -> ThrowawayDatabase:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        return self

    def __exit__(self, *exc_info) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )


# --- Frontline --------------------------------------------------------------------------


def server_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=os.environ.get("CONFORMANCE_REDIS_URL", "redis://127.0.0.1:6379/10"),
        SECRET_KEY=os.environ.get(
            "SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789"
        ),
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode:
        raise SystemExit(f"manage.py {args[0]} failed:\n{result.stderr[-4000:]}")
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen:
    log = log_path.open("wb")
    server = subprocess.Popen(
        [str(GUNICORN), "config.wsgi", "-c", str(ROOT / "gunicorn.conf.py")],
        cwd=ROOT,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited at start; see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/xapi/about", timeout=2):
                return server
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    stop(server)
    raise SystemExit(f"gunicorn did not answer within 60 s; see {log_path}")


def stop(process: subprocess.Popen, *, first: int = signal.SIGTERM, grace: float = 20) -> None:
    """Signal the process group, then kill it if it is still there after `grace` seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, first)
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


# --- the suite --------------------------------------------------------------------------


def suite_source() -> Path:
    """The suite's files: CONFORMANCE_SUITE, ../shared/lrs-conformance beside the project (or
    beside its main checkout, for a git worktree), else a cached clone at SUITE_COMMIT."""
    if os.environ.get("CONFORMANCE_SUITE"):
        return Path(os.environ["CONFORMANCE_SUITE"])
    roots = [ROOT]
    common = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if common.returncode == 0 and common.stdout.strip():
        roots.append(Path(common.stdout.strip()).parent)
    for root in roots:
        candidate = root.parent / "shared" / "lrs-conformance"
        if (candidate / "bin" / "console_runner.js").exists():
            return candidate
    clone = VAR / "suite"
    if not (clone / ".git").exists():
        shutil.rmtree(clone, ignore_errors=True)
        subprocess.run(["git", "clone", "--quiet", SUITE_REPOSITORY, str(clone)], check=True)
    subprocess.run(["git", "checkout", "--quiet", SUITE_COMMIT], cwd=clone, check=True)
    return clone


def _make_writable(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def prepare_suite(source: Path, scratch: Path) -> Path:
    """A writable copy of the suite in `scratch` with its node modules installed."""
    suite = scratch / "lrs-conformance"
    shutil.copytree(source, suite, ignore=shutil.ignore_patterns(".git", "node_modules", "logs"))
    _make_writable(suite)
    digest = hashlib.sha256((suite / "package.json").read_bytes())
    lock = suite / "package-lock.json"
    if lock.exists():
        digest.update(lock.read_bytes())
    cached = VAR / "node_modules" / digest.hexdigest()[:16]
    if (cached / "node_modules").is_dir():
        shutil.copytree(cached / "node_modules", suite / "node_modules", symlinks=True)
        return suite
    say("installing the suite's node modules (cached for the next runs)")
    command = ["npm", "ci"] if lock.exists() else ["npm", "install"]
    subprocess.run(
        [*command, "--no-audit", "--no-fund", "--silent"], cwd=suite, check=True, timeout=900
    )
    cached.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cached.parent))
    shutil.copytree(suite / "node_modules", staging / "node_modules", symlinks=True)
    try:
        staging.rename(cached)
    except OSError:  # another run cached it first
        shutil.rmtree(staging, ignore_errors=True)
    return suite


class Watchdog:
    """Runs the suite; stops it (SIGINT, so it still writes its log; then SIGKILL) when it
    runs longer than `timeout` seconds. Prints the suite's running count once a minute."""

    def __init__(self, command: list[str], *, cwd: Path, log_path: Path, timeout: float) -> None:
        self.command, self.cwd, self.log_path, self.timeout = command, cwd, log_path, timeout
        self.last_summary = ""
        self.timed_out = False

    def _pump(self, process: subprocess.Popen) -> None:
        with self.log_path.open("w") as log:
            for line in process.stdout:
                log.write(line)
                if line.startswith('{"total"'):
                    self.last_summary = line.strip()

    def run(self, label: str) -> None:
        process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        pump = threading.Thread(target=self._pump, args=(process,), daemon=True)
        pump.start()
        started = time.monotonic()
        try:
            while process.poll() is None:
                elapsed = time.monotonic() - started
                if elapsed > self.timeout:
                    self.timed_out = True
                    say(f"[{label}] watchdog: stopping the suite after {int(elapsed)} s")
                    stop(process, first=signal.SIGINT, grace=30)
                    break
                try:
                    process.wait(min(60, self.timeout - elapsed + 0.1))
                except subprocess.TimeoutExpired:
                    say(f"[{label}] {int(time.monotonic() - started)} s: {self.last_summary}")
        finally:
            stop(process, grace=5)
            pump.join(10)


# --- the log ----------------------------------------------------------------------------


@dataclass
class Group:
    title: str
    passed: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


def read_log(logs: Path) -> dict:
    found = sorted(logs.glob("*.log"), key=lambda p: p.stat().st_mtime) if logs.is_dir() else []
    if not found:
        raise FileNotFoundError(f"the suite wrote no log under {logs}")
    return json.loads(found[-1].read_text())


def tally(record: dict) -> list[Group]:
    """Passed/failed per top-level describe. A leaf counts as a test; a suite with an error
    is a failed hook (the suite counts it as one failure), the root's own under "setup"."""
    root = record.get("log") or {}
    groups = []
    if root.get("error"):
        setup = Group(title="(suite setup: a root hook failed, hiding everything)", failed=1)
        setup.failures.append(("(root hook)", root["error"]))
        groups.append(setup)

    def walk(node: dict, trail: list[str], group: Group) -> None:
        children = node.get("tests") or []
        path = [*trail, node.get("title") or ""]
        if not children:
            if node.get("status") == "passed":
                group.passed += 1
            elif node.get("status") == "failed":
                group.failed += 1
                group.failures.append((" > ".join(path), node.get("error") or ""))
            return
        if node.get("error"):
            group.failed += 1
            group.failures.append((" > ".join(path) + " (hook)", node["error"]))
        for child in children:
            walk(child, path, group)

    for top in root.get("tests") or []:
        group = Group(title=top.get("title") or "(untitled)")
        walk(top, [], group)
        groups.append(group)
    return groups


# --- one version ------------------------------------------------------------------------


@dataclass
class Outcome:
    version: str
    passed: int
    failed: int
    not_run: int
    total: int


def run_version(version: str, *, grep: str | None, timeout: float) -> Outcome:
    label = version
    out = VAR / version
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    base_url = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    with (
        ThrowawayDatabase(base_url, version) as database,
        tempfile.TemporaryDirectory(prefix=f"conformance-{version}-") as scratch,
    ):
        say(f"[{label}] database {database.name}")
        env = server_env(database.url)
        manage(env, "migrate", "--noinput", "--verbosity", "0")
        manage(env, "setup_roles")
        manage(env, "collectstatic", "--noinput", "--verbosity", "0")
        issued = json.loads(manage(env, "shell", "-c", CREDENTIAL_SCRIPT).strip().splitlines()[-1])
        suite = prepare_suite(suite_source(), Path(scratch))
        port = free_port()
        server = start_gunicorn(env, port, out / "gunicorn.log")
        try:
            command = [
                "node",
                "bin/console_runner.js",
                "-e",
                f"http://127.0.0.1:{port}/xapi",
                "-a",
                "-u",
                issued["key"],
                "-p",
                issued["secret"],
                "-x",
                version,
            ]
            if grep:
                command += ["-g", grep]
            say(f"[{label}] running the suite on port {port} (watchdog {int(timeout)} s)")
            watchdog = Watchdog(command, cwd=suite, log_path=out / "runner.log", timeout=timeout)
            watchdog.run(label)
        finally:
            stop(server)
        try:
            record = read_log(suite / "logs")
        except (FileNotFoundError, ValueError) as exc:
            say(f"[{label}] no usable log ({exc}); see {out / 'runner.log'}")
            record = {}
        if record:
            shutil.copy(sorted((suite / "logs").glob("*.log"))[-1], out / "suite-log.json")
    return report(version, record, grep=grep, timed_out=watchdog.timed_out)


def report(version: str, record: dict, *, grep: str | None, timed_out: bool) -> Outcome:
    groups = tally(record)
    summary = record.get("summary") or {}
    passed = sum(g.passed for g in groups)
    failed = sum(g.failed for g in groups)
    total = summary.get("total") or 0
    if not grep:
        total = max(total, EXPECTED_TOTALS.get(version, 0))
    not_run = max(total - passed - failed, 0)
    say(f"\n== xAPI {version}" + (f" (-g {grep})" if grep else ""))
    width = min(max((len(g.title) for g in groups), default=10), 90)
    for group in groups:
        title = group.title if len(group.title) <= width else group.title[: width - 1] + "…"
        say(f"  {title:<{width}}  {group.passed:>5} passed {group.failed:>5} failed")
    if (summary.get("passed"), summary.get("failed")) != (passed, failed) and summary:
        say(f"  (the suite's own count: {summary.get('passed')} passed, {summary.get('failed')})")
    failures = VAR / f"failures-{version}.txt"
    with failures.open("w") as handle:
        for group in groups:
            for title, message in group.failures:
                handle.write(f"{title}\n    {message.strip()}\n\n")
    state = " (stopped by the watchdog)" if timed_out else ""
    say(
        f"{version}: {passed} passed, {failed} failed, {not_run} not run of {total}{state}; "
        f"failures in {failures.relative_to(ROOT)}"
    )
    return Outcome(version, passed, failed + not_run, not_run, total)


def main() -> int:
    versions = os.environ.get("CONFORMANCE_VERSIONS", "1.0.3 2.0.0").split()
    grep = os.environ.get("CONFORMANCE_GREP") or None
    timeout = float(os.environ.get("CONFORMANCE_TIMEOUT", "2400"))
    unknown = [v for v in versions if v not in EXPECTED_TOTALS]
    if unknown:
        raise SystemExit(f"unknown xAPI versions: {' '.join(unknown)} (use 1.0.3, 2.0.0)")
    VAR.mkdir(parents=True, exist_ok=True)
    outcomes = [run_version(version, grep=grep, timeout=timeout) for version in versions]
    passed = sum(o.passed for o in outcomes)
    failed = sum(o.failed for o in outcomes)
    say(f"conformance: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
