"""
HTTP door of the document resources (xAPI 1.0.3 Communication §2.2-2.7), on the Statement
Resource's conventions (`analytics.xapi_http`): version header, Basic auth, JSON errors.

Scopes. Documents are shared by every client, as the specification has them (a State
document written by one launch is read by the next, whatever tool reads it):

- State: `state` or `all` reads and writes; `all/read` reads (GET, HEAD).
- Activity and Agent Profiles: `profile` or `all` reads and writes; `all/read` reads.
- Activities and Agents: derived from every client's statements, so reading them needs a
  scope that reads beyond a client's own statements: `statements/read`, `all/read`,
  `profile`, `define` or `all`.

A credential with `statements/read/mine` (and `statements/write`) alone gets 403 from all
of them. HEAD answers as GET would, with the same headers and no body.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.utils.http import http_date
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from analytics.documents import agent_key
from analytics.errors import RequestInvalidError, StatementInvalidError
from analytics.models import DocumentKind, XapiDocument, XapiScope
from analytics.models.xapi_documents import (
    ACTIVITY_ID_MAX_BYTES,
    AGENT_KEY_MAX_BYTES,
    CONTENT_TYPE_MAX_LENGTH,
    DOCUMENT_ID_MAX_BYTES,
)
from analytics.validation import XAPI_2_0, parse_timestamp, validate_activity, validate_agent
from analytics.xapi_documents import selectors, services
from analytics.xapi_documents.errors import DocumentTooLargeError
from analytics.xapi_documents.services import Body, DocumentName, Preconditions
from analytics.xapi_http import json_response, xapi_handler
from core.errors import PermissionDeniedError

# --- parameters -------------------------------------------------------------------------


def _one(params, name: str, *, required: bool = True) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise RequestInvalidError(f"{name} may be given only once.", parameter=name)
    if not values:
        if required:
            raise RequestInvalidError(f"The {name} parameter is required.", parameter=name)
        return None
    return values[0]


def _within(value: str, name: str, limit: int) -> str:
    if len(value.encode()) > limit:
        raise RequestInvalidError(f"{name} is longer than {limit} bytes.", parameter=name)
    return value


def _activity_id(params) -> str:
    value = _one(params, "activityId")
    try:
        validate_activity({"id": value}, "activityId")
    except StatementInvalidError as exc:
        raise RequestInvalidError("activityId must be an IRI.", parameter="activityId") from exc
    return _within(value, "activityId", ACTIVITY_ID_MAX_BYTES)


def _agent(params, *, groups: bool = True) -> tuple[dict[str, Any], str]:
    """The `agent` parameter: (the agent as sent, its inverse functional identifier)."""
    try:
        agent = json.loads(_one(params, "agent"))
        validate_agent(agent, "agent")
    except (ValueError, StatementInvalidError) as exc:
        raise RequestInvalidError(
            f"agent must be an Agent{' or identified Group' if groups else ''} as JSON: {exc}",
            parameter="agent",
        ) from exc
    if not groups and agent.get("objectType") == "Group":
        raise RequestInvalidError("agent must be an Agent, not a Group.", parameter="agent")
    key = agent_key(agent)
    if not key:
        raise RequestInvalidError("agent must be identified (mbox, openid, …).", parameter="agent")
    return agent, _within(key, "agent", AGENT_KEY_MAX_BYTES)


def _registration(params) -> str | None:
    value = _one(params, "registration", required=False)
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise RequestInvalidError("registration must be a UUID.", parameter="registration") from exc


def _since(params) -> datetime | None:
    value = _one(params, "since", required=False)
    if value is None:
        return None
    try:
        return parse_timestamp(value, "since")
    except StatementInvalidError as exc:
        message = "since must be an ISO 8601 timestamp."
        raise RequestInvalidError(message, parameter="since") from exc


def _etags(header: str | None) -> frozenset[str] | None:
    if header is None:
        return None
    tags = set()
    for part in header.split(","):
        tag = part.strip().removeprefix("W/").strip('"').lower()
        if tag:
            tags.add(tag)
    return frozenset(tags)


def _preconditions(request: HttpRequest) -> Preconditions:
    return Preconditions(
        if_match=_etags(request.headers.get("If-Match")),
        if_none_match=_etags(request.headers.get("If-None-Match")),
    )


def _body(request: HttpRequest) -> Body:
    """The body and its media type, or 413 beyond XAPI_DOCUMENT_MAX_BYTES."""
    limit = settings.XAPI_DOCUMENT_MAX_BYTES
    too_large = DocumentTooLargeError(f"A document may be at most {limit} bytes.", max_bytes=limit)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large
    try:
        content = request.body
    except RequestDataTooBig as exc:
        raise too_large from exc
    if len(content) > limit:
        raise too_large
    content_type = (request.content_type or "application/octet-stream").lower()
    if len(content_type) > CONTENT_TYPE_MAX_LENGTH:
        raise RequestInvalidError(
            f"Content-Type is longer than {CONTENT_TYPE_MAX_LENGTH} characters.",
            header="Content-Type",
        )
    return Body(content, content_type)


def _require_scope(request: HttpRequest, *scopes: str) -> None:
    if not request.xapi_credential.has_scope(*scopes):
        raise PermissionDeniedError(
            f"This client's scopes do not include {' or '.join(scopes)}.", scopes=list(scopes)
        )


# --- responses --------------------------------------------------------------------------


def _tagged(response: HttpResponse, document: XapiDocument) -> HttpResponse:
    response["ETag"] = f'"{document.etag}"'
    response["Last-Modified"] = http_date(document.updated_at.timestamp())
    return response


def _document_response(request: HttpRequest, document: XapiDocument) -> HttpResponse:
    tags = _etags(request.headers.get("If-None-Match"))
    if tags and ("*" in tags or document.etag in tags):
        return _tagged(HttpResponse(status=304), document)
    return _tagged(
        HttpResponse(bytes(document.content), content_type=document.content_type), document
    )


class _XapiView(View):
    """HEAD is GET without the body (Django routes HEAD to `get`)."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = super().dispatch(request, *args, **kwargs)
        if request.method == "HEAD" and not response.streaming:
            length = len(response.content)
            response.content = b""
            response["Content-Length"] = str(length)
        return response


# --- document resources -----------------------------------------------------------------


@method_decorator(csrf_exempt, name="dispatch")
class _DocumentView(_XapiView):
    http_method_names = ["get", "head", "put", "post", "delete", "options"]
    kind: str
    id_parameter: str
    scope: str
    context_parameters: frozenset[str]

    def context(self, params) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """({activity_id, agent_key, registration}, the agent as sent) from the parameters."""
        raise NotImplementedError

    def _parse(self, request: HttpRequest, *, write: bool):
        if write:
            _require_scope(request, self.scope)
        else:
            _require_scope(request, self.scope, XapiScope.ALL_READ)
        params = request.GET
        allowed = self.context_parameters | {self.id_parameter, "since"}
        unknown = set(params) - allowed
        if unknown:
            raise RequestInvalidError(
                f"Unknown parameters: {', '.join(sorted(unknown))}.", parameters=sorted(unknown)
            )
        context, agent = self.context(params)
        document_id = _one(params, self.id_parameter, required=write and request.method != "DELETE")
        if document_id is not None:
            if not document_id:
                raise RequestInvalidError(
                    f"{self.id_parameter} must not be empty.", parameter=self.id_parameter
                )
            _within(document_id, self.id_parameter, DOCUMENT_ID_MAX_BYTES)
        if "since" in params and (write or document_id is not None):
            raise RequestInvalidError(
                f"since is for listing ids: GET without {self.id_parameter}.", parameter="since"
            )
        return context, agent, document_id

    def _name(self, context: dict[str, Any], document_id: str) -> DocumentName:
        return DocumentName(
            kind=self.kind,
            document_id=document_id,
            activity_id=context.get("activity_id", ""),
            agent_key=context.get("agent_key", ""),
            registration=context.get("registration") or "",
        )

    @xapi_handler
    def get(self, request: HttpRequest) -> HttpResponse:
        context, _, document_id = self._parse(request, write=False)
        if document_id is None:
            return json_response(
                selectors.document_ids(kind=self.kind, since=_since(request.GET), **context)
            )
        document = selectors.document_get(name=self._name(context, document_id))
        return _document_response(request, document)

    def _write(self, request: HttpRequest, service, **options) -> HttpResponse:
        context, agent, document_id = self._parse(request, write=True)
        document = service(
            name=self._name(context, document_id),
            body=_body(request),
            agent=agent,
            preconditions=_preconditions(request),
            **options,
        )
        return _tagged(HttpResponse(status=204), document)

    @xapi_handler
    def put(self, request: HttpRequest) -> HttpResponse:
        return self._write(
            request,
            services.document_put,
            state_concurrency=request.xapi_version == XAPI_2_0,
        )

    @xapi_handler
    def post(self, request: HttpRequest) -> HttpResponse:
        return self._write(request, services.document_merge)

    @xapi_handler
    def delete(self, request: HttpRequest) -> HttpResponse:
        context, _, document_id = self._parse(request, write=True)
        if document_id is not None:
            services.document_delete(
                name=self._name(context, document_id), preconditions=_preconditions(request)
            )
        elif self.kind == DocumentKind.STATE:
            services.states_delete(**context)
        else:
            raise RequestInvalidError(
                f"DELETE needs the {self.id_parameter} parameter.", parameter=self.id_parameter
            )
        return HttpResponse(status=204)


class StateView(_DocumentView):
    """`/xapi/activities/state`: documents by activityId + agent (+ registration) + stateId."""

    kind = DocumentKind.STATE
    id_parameter = "stateId"
    scope = XapiScope.STATE
    context_parameters = frozenset({"activityId", "agent", "registration"})

    def context(self, params):
        activity_id = _activity_id(params)
        agent, key = _agent(params)
        return (
            {"activity_id": activity_id, "agent_key": key, "registration": _registration(params)},
            agent,
        )


class ActivityProfileView(_DocumentView):
    """`/xapi/activities/profile`: documents by activityId + profileId."""

    kind = DocumentKind.ACTIVITY_PROFILE
    id_parameter = "profileId"
    scope = XapiScope.PROFILE
    context_parameters = frozenset({"activityId"})

    def context(self, params):
        return {"activity_id": _activity_id(params)}, None


class AgentProfileView(_DocumentView):
    """`/xapi/agents/profile`: documents by agent + profileId."""

    kind = DocumentKind.AGENT_PROFILE
    id_parameter = "profileId"
    scope = XapiScope.PROFILE
    context_parameters = frozenset({"agent"})

    def context(self, params):
        agent, key = _agent(params)
        return {"agent_key": key}, agent


# --- Activities and Agents --------------------------------------------------------------

_DERIVED_READ_SCOPES = (
    XapiScope.STATEMENTS_READ,
    XapiScope.ALL_READ,
    XapiScope.PROFILE,
    XapiScope.DEFINE,
)


def _only(params, allowed: set[str]) -> None:
    unknown = set(params) - allowed
    if unknown:
        raise RequestInvalidError(
            f"Unknown parameters: {', '.join(sorted(unknown))}.", parameters=sorted(unknown)
        )


class ActivitiesView(_XapiView):
    """`/xapi/activities?activityId=`: the Activity with its canonical definition."""

    http_method_names = ["get", "head", "options"]

    @xapi_handler
    def get(self, request: HttpRequest) -> HttpResponse:
        _require_scope(request, *_DERIVED_READ_SCOPES)
        _only(request.GET, {"activityId"})
        return json_response(selectors.activity_get(activity_id=_activity_id(request.GET)))


class AgentsView(_XapiView):
    """`/xapi/agents?agent=`: the Person object of an Agent."""

    http_method_names = ["get", "head", "options"]

    @xapi_handler
    def get(self, request: HttpRequest) -> HttpResponse:
        _require_scope(request, *_DERIVED_READ_SCOPES)
        _only(request.GET, {"agent"})
        agent, _ = _agent(request.GET, groups=False)
        return json_response(selectors.person_get(agent=agent))
