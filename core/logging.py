"""
Structured logging plumbing: a request id per HTTP request, on every log line, carried
into the Celery tasks that request enqueues, and one access-log line per request
(logger `frontline.access`: method, path, status, duration, request id; 4xx and 5xx
included), which replaces gunicorn's plain-text access log.

Kept free of model imports: the Celery app imports it before Django is set up.
"""

import contextvars
import logging
import re
import time
import uuid

REQUEST_ID_HEADER = "X-Request-ID"
_CELERY_HEADER = "request_id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
access_logger = logging.getLogger("frontline.access")


def get_request_id() -> str | None:
    return request_id_var.get()


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record so formatters can always print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Django logs 4xx responses ("Not Found: /x") after the middleware chain has
        # returned, outside the request's context: take the id from the request it names.
        request_id = request_id_var.get() or getattr(
            getattr(record, "request", None), "request_id", None
        )
        record.request_id = request_id or "-"
        return True


class RequestIdMiddleware:
    """Takes a well-formed X-Request-ID from the caller or makes one; echoes it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            _access_log(request, response, started)
        finally:
            request_id_var.reset(token)
        return response


def _access_log(request, response, started: float) -> None:
    from core import metrics

    status = response.status_code
    metrics.record_response(status)
    if not access_logger.isEnabledFor(logging.INFO):
        return
    query = request.META.get("QUERY_STRING", "")
    access_logger.info(
        "request",
        extra={
            "method": request.method,
            "path": request.path,
            "query_length": len(query),
            "status_code": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "remote_addr": request.META.get("REMOTE_ADDR", ""),
            "user_agent": request.headers.get("User-Agent", "")[:200],
        },
    )


def _add_request_id_header(headers=None, **_kwargs) -> None:
    request_id = request_id_var.get()
    if request_id and headers is not None and _CELERY_HEADER not in headers:
        headers[_CELERY_HEADER] = request_id


def _bind_task_request_id(task=None, **_kwargs) -> None:
    # An eager task runs inside its caller's context and keeps the caller's id.
    if getattr(task.request, "is_eager", False):
        task._frontline_request_token = None
        return
    # Custom message headers become attributes of task.request (Celery protocol 2).
    request_id = getattr(task.request, _CELERY_HEADER, None)
    task._frontline_request_token = request_id_var.set(request_id or f"task-{task.request.id}")


def _unbind_task_request_id(task=None, **_kwargs) -> None:
    token = getattr(task, "_frontline_request_token", None)
    if token is not None:
        try:
            request_id_var.reset(token)
        except ValueError:  # set in another context (eager tasks nested in a request)
            request_id_var.set(None)
        task._frontline_request_token = None


def connect_celery_signals() -> None:
    from celery import signals

    signals.before_task_publish.connect(_add_request_id_header, weak=False)
    signals.task_prerun.connect(_bind_task_request_id, weak=False)
    signals.task_postrun.connect(_unbind_task_request_id, weak=False)
