"""
Structured logging plumbing: a request id per HTTP request, on every log line, carried
into the Celery tasks that request enqueues.

Kept free of model imports: the Celery app imports it before Django is set up.
"""

import contextvars
import logging
import re
import uuid

REQUEST_ID_HEADER = "X-Request-ID"
_CELERY_HEADER = "request_id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)


def get_request_id() -> str | None:
    return request_id_var.get()


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record so formatters can always print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
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
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


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
