"""
One gate for malformed input, in front of every view (API, xAPI, webhooks, admin, pages).

Refused with a 400 before any view, parser or form sees it:

- a NUL character in the path, the query string, or a form or JSON body (PostgreSQL text
  cannot hold one, so it would otherwise surface as a 500 deep inside a query);
- bytes that are not UTF-8 in the path, the query string or such a body;
- JSON nested deeper than REQUEST_MAX_JSON_DEPTH, in a body or a query parameter (Python's
  json module recurses, so 4 KB of brackets exhausts the interpreter's stack: a 500).

API paths get the JSON body of core.api.exceptions' validation errors, `{"code":
"invalid", "message", "errors": {field: [...]}, "details": {"reason"}}` (xAPI's own code and
version header under /xapi/, REQUEST_REFUSAL_OVERRIDES); pages get the 400 page.
Bodies are checked for the content types Django or DRF parse as text: JSON, urlencoded
forms, and the text fields of multipart forms (files are left alone).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError

from core.errors_views import _wants_json, bad_request

# A JSON string, written "unrolled" (runs of plain characters between escapes): the same
# strings as "(?:[^"\\]|\\.)*" at a third of the cost on large bodies (one alternation per
# escape rather than per character).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_BRACKET_STEPS = {"[": 1, "{": 1, "]": -1, "}": -1}
# A JSON escape for NUL: \u0000 preceded by an even number of backslashes (or none).
_JSON_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


class InputRefused(Exception):
    """`reason` is stable (null_character, invalid_encoding, too_deep); `field` names the
    query parameter or form field when there is one."""

    def __init__(self, reason: str, message: str, field: str | None = None):
        self.reason = reason
        self.message = message
        self.field = field
        super().__init__(message)


def _without_strings(text: str) -> str:
    """`text` with its JSON strings taken out."""
    if "\\" not in text and text.count('"') % 2 == 0:
        # No escapes and every string closed: the strings are the pieces between the odd
        # and the even quotes (what the regex finds, at a third of its cost).
        return "".join(text.split('"')[::2])
    return _JSON_STRING.sub("", text)


def json_depth(text: str) -> int:
    """Deepest bracket nesting of a JSON text, strings skipped; linear, no recursion."""
    steps = map(_BRACKET_STEPS.__getitem__, _BRACKETS.findall(_without_strings(text)))
    return max(0, max(accumulate(steps), default=0))


def _text(raw: bytes, *, where: str, field: str | None = None) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputRefused("invalid_encoding", f"The {where} is not valid UTF-8.", field) from None
    if "\x00" in text:
        raise InputRefused("null_character", f"The {where} contains a NUL character.", field)
    return text


def _check_depth(text: str, *, where: str, field: str | None = None) -> None:
    limit = settings.REQUEST_MAX_JSON_DEPTH
    if json_depth(text) > limit:
        message = f"The {where} nests JSON deeper than {limit} levels."
        raise InputRefused("too_deep", message, field)


def _check_urlencoded(raw: bytes, *, where: str) -> None:
    for pair in raw.split(b"&"):
        name, _, value = pair.partition(b"=")
        field = _text(unquote_to_bytes(name.replace(b"+", b" ")), where=where)
        text = _text(unquote_to_bytes(value.replace(b"+", b" ")), where=where, field=field)
        if text[:1] in ("[", "{"):
            _check_depth(text, where=where, field=field)


def _holds_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _field_holding_nul(text: str) -> str | None:
    """The top-level field whose value holds the NUL, for a field error (depth is checked
    before, so parsing cannot recurse too deep); None if there is no such field."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if isinstance(document, dict):
        for key, value in document.items():
            if _holds_nul(value) and not _holds_nul(key):
                return key
    return None


def _wsgi_bytes(value: str) -> bytes:
    # WSGI hands PATH_INFO and QUERY_STRING over as bytes decoded as latin-1 (PEP 3333).
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # a test client or ASGI server that decoded it already
        return value.encode("utf-8", "surrogateescape")


def check_request(request: HttpRequest) -> None:
    """Raise InputRefused if the path, query string or text body is malformed."""
    # Django has already re-percent-encoded the path's bytes that are not UTF-8 ("%FF"), so
    # decoding once more finds them (and NULs, whether raw or written as %00).
    _text(unquote_to_bytes(request.path_info), where="path")
    _check_urlencoded(_wsgi_bytes(request.META.get("QUERY_STRING", "")), where="query string")

    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    content_type = (request.content_type or "").lower()
    if content_type == "multipart/form-data":
        # Django decodes the parts itself; only the text fields are looked at, not files.
        try:
            fields = request.POST
        except MultiPartParserError:
            raise InputRefused("invalid_multipart", "The multipart body is malformed.") from None
        for key, values in fields.lists():
            if any("\x00" in text for text in (key, *values)):
                message = "The form body contains a NUL character."
                raise InputRefused("null_character", message, key.replace("\x00", ""))
        return
    is_json = content_type == "application/json" or content_type.endswith("+json")
    is_form = content_type == "application/x-www-form-urlencoded"
    if not (is_json or is_form):
        return
    try:
        raw = request.body
    except RequestDataTooBig:
        return  # the view (or Django) answers that with its own 400/413
    if is_form:
        _text(raw, where="form body")
        _check_urlencoded(raw, where="form body")
        return
    check_json_text(raw, where="JSON body")


def check_json_text(raw: bytes, *, where: str) -> str:
    """`raw` as text, or InputRefused if it is not UTF-8, holds a NUL (raw or escaped) or
    nests too deep: the rules of JSON bodies, for JSON that arrives inside another body."""
    text = _text(raw, where=where)
    _check_depth(text, where=where)
    # The regex is tried at every position of the text; most bodies hold no such escape.
    if ("\\u0000" in text or "\\U0000" in text) and _JSON_NUL_ESCAPE.search(text):
        message = f"The {where} contains a NUL character."
        raise InputRefused("null_character", message, _field_holding_nul(text))
    return text


class InputValidationMiddleware:
    """Answers malformed input with a 400 before any view runs (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            check_request(request)
        except InputRefused as refusal:
            return self.refuse(request, refusal)
        return self.get_response(request)

    @staticmethod
    def refuse(request: HttpRequest, refusal: InputRefused) -> HttpResponse:
        if not _wants_json(request):
            return bad_request(request)
        body = {
            "code": "invalid",
            "message": refusal.message,
            "errors": {refusal.field or "non_field_errors": [refusal.message]},
            "details": {"reason": refusal.reason},
        }
        headers: dict[str, str] = {}
        for prefix, override in settings.REQUEST_REFUSAL_OVERRIDES.items():
            if request.path.startswith(prefix):
                body["code"] = override.get("code", body["code"])
                headers.update(override.get("headers", {}))
        return JsonResponse(body, status=400, headers=headers)
