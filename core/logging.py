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


# --- secrets never reach a log line --------------------------------------------------------
# Tasks take ids and no code path logs a secret on purpose; this filter is the safety net
# behind that rule, on every handler (Celery's "received"/"succeeded" lines print task
# arguments and return values). It rewrites the message, its arguments, the extra fields and
# the exception text of each record.

REDACTED = "[redacted]"

# Gift card codes as gift_cards/codes.py makes them: PREFIX-XXXX-XXXX-XXXX-XXXX over its
# 32-symbol alphabet (no 0/O/1/I), 8 to 32 characters after the prefix, grouping forgiven.
# Written out here because core depends on no domain app; a test keeps the two in step.
_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_CODE_INDEX = {char: i for i, char in enumerate(_CODE_ALPHABET)}
_GIFT_CARD_CODE = re.compile(
    rf"\b[A-Z0-9]{{1,10}}-(?:[{_CODE_ALPHABET}]{{4}}[- ]?){{1,7}}[{_CODE_ALPHABET}]{{4}}\b",
    re.IGNORECASE,
)


def _luhn_mod_32(body: str) -> bool:
    """The codes' check character (gift_cards.codes): every real code passes."""
    total = 0
    for position, char in enumerate(reversed(body)):
        addend = _CODE_INDEX[char] * (2 if position % 2 else 1)
        total += addend // 32 + addend % 32
    return total % 32 == 0


def _redact_code(match: re.Match[str]) -> str:
    # Ordinary hyphenated words ("site-packages") have the shape too; a code is written in
    # capitals, or has a digit, or passes the check character (real codes always do).
    text = match.group(0)
    body = re.sub(r"[- ]", "", text.partition("-")[2]).upper()
    if text.isupper() or any(c.isdigit() for c in body) or _luhn_mod_32(body):
        return REDACTED
    return text


_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # JSON Web Tokens (simplejwt access/refresh) and other base64url JSON headers.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}(?:\.[A-Za-z0-9_-]*){1,2}"), REDACTED),
    # Fernet tokens (sealed gift card codes): version byte 0x80, so base64url "gAAAAA".
    (re.compile(r"\bgAAAAA[A-Za-z0-9_-]{40,}={0,2}"), REDACTED),
    # django.core.signing values (answer links, report links): a base64 payload, an optional
    # timestamp, and the 43-character base64 HMAC-SHA256, ":"-separated.
    (
        re.compile(r"[A-Za-z0-9_.-]{8,}(?::[A-Za-z0-9]{1,10})?:[A-Za-z0-9_-]{43}(?![\w-])"),
        REDACTED,
    ),
    # Authorization header values.
    (
        re.compile(r"\b(Bearer|Basic|Token|Digest)\s+[A-Za-z0-9._~+/=:-]{8,}", re.IGNORECASE),
        rf"\1 {REDACTED}",
    ),
    # Slack tokens (bot, user, app-level, refresh, config).
    (re.compile(r"\bxox[abeoprs]-[A-Za-z0-9-]{6,}|\bxapp-[A-Za-z0-9-]{6,}"), REDACTED),
    # Passwords in URLs (scheme://user:password@host), e.g. Twilio or SMTP credentials.
    (re.compile(r"(://[^/\s:@]+:)[^/\s@]+@"), rf"\1{REDACTED}@"),
    # key=value / "key": "value" pairs whose key names a secret (query strings, bodies,
    # reprs of kwargs): password, token, secret, auth token, API key, signature.
    (
        re.compile(
            r"""(?P<key>\b[\w-]*(?:password|passwd|secret|token|api[_-]?key|signature|"""
            r"""authorization)[\w-]*)(?P<sep>["']?\s*[:=]\s*["']?)(?P<value>[^\s&"',;}\]]+)""",
            re.IGNORECASE,
        ),
        rf"\g<key>\g<sep>{REDACTED}",
    ),
    # Query parameters named code (one-time links, OAuth codes).
    (re.compile(r"(?P<key>[?&]code=)[^\s&#\"']+", re.IGNORECASE), rf"\g<key>{REDACTED}"),
)
_SECRET_KEYS = re.compile(
    r"password|passwd|secret|token|api[_-]?key|signature|authorization|^cookie$",
    re.IGNORECASE,
)
# LogRecord's own attributes: everything else on a record came in through `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def scrub(text: str) -> str:
    """`text` with anything shaped like a gift card code or a token replaced."""
    if not text:
        return text
    text = _GIFT_CARD_CODE.sub(_redact_code, text)
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub_value(value, *, max_depth: int = 8, _depth: int = 0):
    """Strings scrubbed, containers scrubbed inside; values under secret-named keys dropped.
    Past `max_depth` levels a container is replaced whole (nothing unread gets through)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict | list | tuple) and _depth >= max_depth:
        return REDACTED
    deeper = {"max_depth": max_depth, "_depth": _depth + 1}
    if isinstance(value, dict):
        return {
            key: REDACTED
            if isinstance(key, str) and _SECRET_KEYS.search(key) and value[key]
            else scrub_value(item, **deeper)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(scrub_value(item, **deeper) for item in value)
    if isinstance(value, bytes | bytearray):
        return scrub(bytes(value).decode("utf-8", "replace"))
    return value


class SecretScrubFilter(logging.Filter):
    """Rewrites each record so no gift card code or token reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the raw parts, scrubbed
            message = f"{record.msg} {record.args!r}"
        cleaned = scrub(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        for key, value in list(vars(record).items()):
            if key not in _RECORD_ATTRIBUTES:
                setattr(record, key, scrub_value(value))
        if record.exc_info:
            # Formatters print exc_text when exc_info is gone; the JSON formatter too.
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True
