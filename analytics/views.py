"""
The xAPI Statement Resource (`/xapi/statements`) and About resource (`/xapi/about`), for
xAPI 1.0.3 and 2.0 (IEEE 9274.1.1) side by side.

Plain Django views: the wire format is xAPI's, not DRF's. Every request but /xapi/about
must send X-Experience-API-Version 1.0.x or 2.0.x; the version it resolves to
(`request.xapi_version`, "1.0.3" or "2.0.0") picks the rules statements are validated and
answered by, and is the X-Experience-API-Version of the response (1.0.3 when a request
named none). Errors are JSON: {"code", "message", "details"?}.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.utils.http import http_date
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from analytics import alternate, attachments, auth, documents, multipart, selectors, services
from analytics.errors import RequestInvalidError, StatementInvalidError, VersionHeaderError
from analytics.validation import (
    SUPPORTED_VERSIONS,
    XAPI_1_0,
    XAPI_2_0,
    parse_timestamp,
    resolve_version,
    validate_agent,
)
from core.errors import DomainError, PermissionDeniedError
from core.input import InputRefused, check_json_text
from core.net import client_ip

_GET_PARAMETERS = {
    "statementId",
    "voidedStatementId",
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
    "cursor",
}
_ALTERNATE_METHODS = frozenset({"GET", "HEAD", "PUT", "POST"})
_SINGLE_PARAMETERS = {"statementId", "voidedStatementId", "format", "attachments"}


def _json_response(body: Any, *, status: int = 200) -> HttpResponse:
    return HttpResponse(
        json.dumps(body, separators=(",", ":")), status=status, content_type="application/json"
    )


def _statements_response(
    document: Any, statements: list[dict[str, Any]], *, with_attachments: bool
) -> HttpResponse:
    """A GET's answer: JSON, or with `attachments=true` multipart/mixed, the JSON first and
    then the raw attachments of `statements` (Communication §2.1.3)."""
    if not with_attachments:
        return _json_response(document)
    content_type, body = multipart.compose(
        json.dumps(document, separators=(",", ":")).encode(),
        attachments.attachments_for(statements),
    )
    return HttpResponse(body, content_type=content_type)


def _error_response(exc: DomainError) -> HttpResponse:
    response = _json_response(exc.as_dict(), status=exc.status_code)
    retry_after = exc.extra.get("retry_after") if exc.extra else None
    if retry_after is not None:
        response["Retry-After"] = str(int(retry_after))
    if exc.status_code == 401:
        response["WWW-Authenticate"] = 'Basic realm="xAPI"'
    return response


def _consistent_through() -> datetime:
    """Up to when the Statement Resource's answers are complete (X-Experience-API-Consistent-
    Through): every GET of /xapi/statements carries it, errors included. From the oldest
    write still in flight (analytics.consistency), never past it."""
    return selectors.statement_consistent_through()


def _xapi(
    handler: Callable[..., HttpResponse],
    *,
    check_version: bool = True,
    consistent_through: bool = False,
):
    """Version header in and out, auth, rate limit, DomainError → JSON; with
    `consistent_through`, X-Experience-API-Consistent-Through on every answer. Sets
    `request.xapi_version` (without `check_version`, 1.0.3 unless the request names a
    version this store speaks)."""

    def wrapped(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        header = request.headers.get("X-Experience-API-Version")
        resolved = resolve_version(header)
        request.xapi_version = resolved or XAPI_1_0
        try:
            if check_version:
                if not header:
                    raise VersionHeaderError("X-Experience-API-Version header is required.")
                if resolved is None:
                    raise VersionHeaderError(
                        f"X-Experience-API-Version {header!r} is not supported; use 1.0.x or 2.0.x."
                    )
                credential = auth.authenticate(
                    request.headers.get("Authorization", ""), address=client_ip(request)
                )
                auth.check_rate(credential)
                request.xapi_credential = credential
            response = handler(self, request, *args, **kwargs)
        except DomainError as exc:
            response = _error_response(exc)
        response["X-Experience-API-Version"] = request.xapi_version
        if consistent_through and "X-Experience-API-Consistent-Through" not in response:
            # The value the handler took before its query, if it got that far: one
            # computation per request, and never one taken after the query it heads.
            value = getattr(request, "xapi_consistent_through", None) or _consistent_through()
            response["X-Experience-API-Consistent-Through"] = value.isoformat()
        return response

    return wrapped


def _head(response: HttpResponse) -> HttpResponse:
    """HEAD (Communication §1.1): the GET's status and headers, Content-Length included,
    without the body, whichever server sends it."""
    response["Content-Length"] = str(len(response.content))
    response.content = b""
    return response


def _require_write(request: HttpRequest) -> None:
    if not request.xapi_credential.writes:
        raise PermissionDeniedError("This client's scopes do not include statements/write.")


def _read_scope(request: HttpRequest) -> int | None:
    """None: the client reads every statement; else the id of the credential whose own
    statements it may read (statements/read/mine). 403 without a read scope."""
    credential = request.xapi_credential
    if credential.reads_all:
        return None
    if credential.reads_own:
        return credential.pk
    raise PermissionDeniedError("This client's scopes do not include reading statements.")


def _loads(raw: bytes) -> Any:
    try:
        return documents.loads_strict(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StatementInvalidError(f"The body is not valid JSON: {exc}") from exc


def _body(request: HttpRequest) -> tuple[Any, list[multipart.Part]]:
    """The statement document of a POST or PUT and the raw attachments sent with it:
    application/json, or multipart/mixed with the statements as its first part."""
    content_type = request.content_type or ""
    if content_type not in ("application/json", multipart.MULTIPART_MIXED):
        raise RequestInvalidError(
            "Content-Type must be application/json, or multipart/mixed with attachments.",
            content_type=content_type,
        )
    try:
        raw = request.body
    except RequestDataTooBig as exc:
        raise RequestInvalidError("The request body is too large.", code="too_large") from exc
    if content_type == "application/json":
        return _loads(raw), []
    body = multipart.parse(request.META.get("CONTENT_TYPE", ""), raw)
    try:
        # The statements part meets the rules core.input applies to JSON bodies.
        check_json_text(body.statements, where="statements part")
    except InputRefused as refusal:
        raise RequestInvalidError(refusal.message, reason=refusal.reason) from refusal
    return _loads(body.statements), body.parts


def _bool_param(params, name: str) -> bool:
    value = params.get(name, "false").lower()
    if value not in ("true", "false"):
        raise RequestInvalidError(f"{name} must be true or false.", parameter=name)
    return value == "true"


def _uuid_param(params, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(params[name])
    except ValueError as exc:
        raise RequestInvalidError(f"{name} must be a UUID.", parameter=name) from exc


def _time_param(params, name: str) -> datetime | None:
    if name not in params:
        return None
    try:
        return parse_timestamp(params[name], name)
    except StatementInvalidError as exc:
        raise RequestInvalidError(f"{name} must be an ISO 8601 timestamp.", parameter=name) from exc


def _languages(request: HttpRequest) -> list[str]:
    header = request.headers.get("Accept-Language", "")
    ranked = []
    for part in header.split(","):
        tag, _, q = part.strip().partition(";q=")
        if tag and tag != "*":
            try:
                ranked.append((float(q) if q else 1.0, tag.strip()))
            except ValueError:
                continue
    return [tag for _, tag in sorted(ranked, key=lambda item: -item[0])]


@method_decorator(csrf_exempt, name="dispatch")
class StatementsView(View):
    http_method_names = ["get", "post", "put", "head", "options"]

    def post(self, request: HttpRequest) -> HttpResponse:
        if alternate.is_alternate(request):
            return self._alternate(request)
        return self._post(request)

    @partial(_xapi, check_version=False)
    def _alternate(self, request: HttpRequest) -> HttpResponse:
        """POST ?method=… (Communication §1.3): answered as the request it stands for, whose
        own version header and credentials are checked as usual."""
        if request.xapi_version == XAPI_2_0:
            raise alternate.removed_in_2_0()
        inner = alternate.alternate_request(request, methods=_ALTERNATE_METHODS)
        if resolve_version(inner.headers.get("X-Experience-API-Version")) == XAPI_2_0:
            raise alternate.removed_in_2_0()
        handlers = {"GET": self.get, "HEAD": self.head, "PUT": self.put, "POST": self._post}
        return handlers[inner.method](inner)

    @_xapi
    def _post(self, request: HttpRequest) -> HttpResponse:
        _require_write(request)
        if request.GET:
            raise RequestInvalidError(
                "POST takes no parameters; use PUT with statementId.",
                parameters=sorted(request.GET),
            )
        body, parts = _body(request)
        single = isinstance(body, dict)
        statements = [body] if single else body
        if not isinstance(statements, list):
            raise StatementInvalidError("The body must be a statement or an array of statements.")
        ids = services.statements_store(
            statements=statements,
            credential=request.xapi_credential,
            single=single,
            attachments=parts,
            version=request.xapi_version,
        )
        return _json_response([str(i) for i in ids])

    @_xapi
    def put(self, request: HttpRequest) -> HttpResponse:
        _require_write(request)
        unknown = set(request.GET) - {"statementId"}
        if unknown:
            raise RequestInvalidError("PUT takes only statementId.", parameters=sorted(unknown))
        if "statementId" not in request.GET:
            raise RequestInvalidError("PUT needs the statementId parameter.")
        statement_id = _uuid_param(request.GET, "statementId")
        body, parts = _body(request)
        if not isinstance(body, dict):
            raise StatementInvalidError("PUT takes one statement object.")
        if "id" in body:
            try:
                same = uuid.UUID(str(body["id"])) == statement_id
            except ValueError:
                same = False
            if not same:
                raise StatementInvalidError(
                    "statement.id: does not match the statementId parameter", path="statement.id"
                )
        body = {**body, "id": str(statement_id)}
        services.statements_store(
            statements=[body],
            credential=request.xapi_credential,
            single=True,
            attachments=parts,
            version=request.xapi_version,
        )
        return HttpResponse(status=204)

    def head(self, request: HttpRequest) -> HttpResponse:
        return _head(self.get(request))

    @partial(_xapi, consistent_through=True)
    def get(self, request: HttpRequest) -> HttpResponse:
        own_only = _read_scope(request)
        params = request.GET
        unknown = set(params) - _GET_PARAMETERS
        if unknown:
            raise RequestInvalidError(
                f"Unknown parameters: {', '.join(sorted(unknown))}.", parameters=sorted(unknown)
            )
        format = params.get("format", "exact")
        if format not in ("exact", "ids", "canonical"):
            raise RequestInvalidError("format must be exact, ids or canonical.", parameter="format")
        with_attachments = _bool_param(params, "attachments")
        languages = _languages(request)
        consistent_through = request.xapi_consistent_through = _consistent_through()

        if "statementId" in params or "voidedStatementId" in params:
            if "statementId" in params and "voidedStatementId" in params:
                raise RequestInvalidError("Send statementId or voidedStatementId, not both.")
            extra = set(params) - _SINGLE_PARAMETERS
            if extra:
                raise RequestInvalidError(
                    "statementId and voidedStatementId take only format and attachments.",
                    parameters=sorted(extra),
                )
            voided = "voidedStatementId" in params
            name = "voidedStatementId" if voided else "statementId"
            statement = selectors.statement_get(
                statement_id=_uuid_param(params, name), voided=voided, credential_id=own_only
            )
            response = _statements_response(
                documents.format_statement(
                    statement.data,
                    format=format,
                    languages=languages,
                    version=request.xapi_version,
                ),
                [statement.data],
                with_attachments=with_attachments,
            )
            response["Last-Modified"] = http_date(statement.stored.timestamp())
            response["X-Experience-API-Consistent-Through"] = consistent_through.isoformat()
            return response

        filters = selectors.StatementFilters(
            verb=params.get("verb"),
            activity=params.get("activity"),
            related_activities=_bool_param(params, "related_activities"),
            related_agents=_bool_param(params, "related_agents"),
            since=_time_param(params, "since"),
            until=_time_param(params, "until"),
            ascending=_bool_param(params, "ascending"),
            credential_id=own_only,
        )
        if "agent" in params:
            try:
                agent = json.loads(params["agent"])
                validate_agent(agent, "agent")
            except (ValueError, StatementInvalidError) as exc:
                raise RequestInvalidError(
                    f"agent must be an Agent or identified Group as JSON: {exc}", parameter="agent"
                ) from exc
            filters.agent = documents.agent_key(agent)
            if not filters.agent:
                raise RequestInvalidError("agent must be identified.", parameter="agent")
        if "registration" in params:
            filters.registration = _uuid_param(params, "registration")
        try:
            limit = int(params.get("limit", "0"))
        except ValueError as exc:
            raise RequestInvalidError("limit must be a whole number.", parameter="limit") from exc
        if limit < 0:
            raise RequestInvalidError("limit must not be negative.", parameter="limit")
        limit = min(limit or settings.XAPI_PAGE_SIZE_MAX, settings.XAPI_PAGE_SIZE_MAX)

        page = selectors.statement_list(filters=filters, limit=limit, cursor=params.get("cursor"))
        if with_attachments:
            # A page's attachments travel in its answer: end the page early rather than
            # answer more than XAPI_ATTACHMENTS_RESPONSE_MAX_BYTES of them.
            fits = attachments.statements_within_budget(
                [s.data for s in page.statements], settings.XAPI_ATTACHMENTS_RESPONSE_MAX_BYTES
            )
            if fits < len(page.statements):
                kept = page.statements[:fits]
                page = selectors.StatementPage(
                    statements=kept, next_cursor=selectors.encode_cursor(kept[-1])
                )
        more = ""
        if page.next_cursor:
            query = {k: v for k, v in params.items() if k != "cursor"}
            query["cursor"] = page.next_cursor
            more = f"{request.path}?{urlencode(query)}"
        body = {
            "statements": [
                documents.format_statement(
                    s.data, format=format, languages=languages, version=request.xapi_version
                )
                for s in page.statements
            ],
            "more": more,
        }
        response = _statements_response(
            body, [s.data for s in page.statements], with_attachments=with_attachments
        )
        last = max((s.stored for s in page.statements), default=consistent_through)
        response["Last-Modified"] = http_date(last.timestamp())
        response["X-Experience-API-Consistent-Through"] = consistent_through.isoformat()
        return response


class AboutView(View):
    http_method_names = ["get", "head", "options"]

    def _about(self, request: HttpRequest) -> HttpResponse:
        return _json_response({"version": list(SUPPORTED_VERSIONS), "extensions": {}})

    get = _xapi(_about, check_version=False)

    def head(self, request: HttpRequest) -> HttpResponse:
        return _head(self.get(request))
