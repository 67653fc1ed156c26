import json
import logging

import pytest

from core.logging import (
    RequestIdFilter,
    _add_request_id_header,
    _bind_task_request_id,
    _unbind_task_request_id,
    get_request_id,
    request_id_var,
)


@pytest.mark.django_db
def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz")
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_a_well_formed_caller_request_id_is_kept_and_a_hostile_one_replaced(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123").get("X-Request-ID") == "abc-123"
    hostile = client.get("/healthz", HTTP_X_REQUEST_ID="x\nforged log line").get("X-Request-ID")
    assert hostile != "x\nforged log line"
    assert "\n" not in hostile


def test_json_log_lines_carry_the_request_id(capsys):
    from pythonjsonlogger.json import JsonFormatter

    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter("%(levelname)s %(name)s %(message)s %(request_id)s"))
    logger = logging.getLogger("tests.request-id")
    logger.addHandler(handler)
    token = request_id_var.set("req-42")
    try:
        logger.warning("something happened", extra={"learner": 7})
    finally:
        request_id_var.reset(token)
        logger.removeHandler(handler)
    line = json.loads(capsys.readouterr().err.strip())
    assert line == {
        "levelname": "WARNING",
        "name": "tests.request-id",
        "message": "something happened",
        "request_id": "req-42",
        "learner": 7,
    }


def test_request_id_travels_in_task_headers_and_is_bound_in_the_worker():
    class FakeRequest:
        id = "task-uuid"
        is_eager = False

    class FakeTask:
        request = FakeRequest()

    # publishing side: the header is added from the current request
    headers = {}
    token = request_id_var.set("req-99")
    _add_request_id_header(headers=headers)
    request_id_var.reset(token)
    assert headers == {"request_id": "req-99"}
    # worker side: the header (an attribute of task.request) is bound for the task's logs
    baseline = request_id_var.set(None)
    task = FakeTask()
    task.request.request_id = headers["request_id"]
    _bind_task_request_id(task=task)
    assert get_request_id() == "req-99"
    _unbind_task_request_id(task=task)
    assert get_request_id() is None
    request_id_var.reset(baseline)


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.addFilter(RequestIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def collected():
    handler = _Collect()
    loggers = [logging.getLogger("frontline.access"), logging.getLogger("django.request")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    yield handler.records
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


@pytest.mark.django_db
def test_every_request_writes_one_access_line_with_its_request_id(client, collected):
    client.get("/healthz", HTTP_X_REQUEST_ID="req-ok")
    client.get("/api/v1/no-such-thing/?token=secret", HTTP_X_REQUEST_ID="req-404")
    access = [r for r in collected if r.name == "frontline.access"]
    assert [(r.request_id, r.method, r.path, r.status_code) for r in access] == [
        ("req-ok", "GET", "/healthz", 200),
        ("req-404", "GET", "/api/v1/no-such-thing/", 404),
    ]
    assert all(r.duration_ms >= 0 for r in access)
    assert "secret" not in json.dumps([r.__dict__.get("path") for r in access])


@pytest.mark.django_db
def test_django_4xx_warnings_carry_the_request_id(client, collected):
    client.get("/api/v1/no-such-thing/", HTTP_X_REQUEST_ID="req-4xx")
    [warning] = [r for r in collected if r.name == "django.request"]
    assert warning.getMessage() == "Not Found: /api/v1/no-such-thing/"
    assert warning.request_id == "req-4xx"
