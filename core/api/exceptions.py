"""
One place that turns every refusal into a JSON 4xx body:

    {"code": "invalid", "message": "...", "errors": {"field": ["..."]}}

Domain errors keep their own code and status; DRF and Django validation errors become 400
with field errors, except those raised by `rule_violation` (a rule across fields or one that
depends on configuration, which the OpenAPI schema cannot state): those are 422
`unprocessable` with the same field errors. A 400 therefore always means "the schema says
this is malformed"; nothing a client sends reaches a 500 through here. A dependency that is
down (database, Redis, broker: core.outages) answers 503 with Retry-After.
"""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError
from core.outages import dependency_down, note_request_failure, retry_after_seconds

RULE = "rule"


def rule_violation(errors: dict[str, Any] | str) -> exceptions.ValidationError:
    """A validation error for a well-formed request that breaks a rule the schema cannot
    state; the handler answers it 422 instead of 400. Raise it from a serializer's
    `validate()` or a field validator."""
    return exceptions.ValidationError(errors, code=RULE)


def _leaf_codes(codes: Any):
    if isinstance(codes, dict):
        for value in codes.values():
            yield from _leaf_codes(value)
    elif isinstance(codes, list):
        for value in codes:
            yield from _leaf_codes(value)
    else:
        yield codes


def _flatten_detail(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _flatten_detail(detail[0])
    if isinstance(detail, dict) and detail:
        return _flatten_detail(next(iter(detail.values())))
    return str(detail)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        response = Response(exc.as_dict(), status=exc.status_code)
        retry_after = exc.extra.get("retry_after") if exc.extra else None
        if retry_after is not None:
            response["Retry-After"] = str(int(retry_after))
        return response

    dependency = dependency_down(exc)
    if dependency is not None:
        request = context.get("request")
        note_request_failure(dependency, exc, request.path if request is not None else "")
        response = Response(
            {
                "code": "service_unavailable",
                "message": "A service this request depends on is unavailable; try again later.",
                "dependency": dependency,
            },
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
        response["Retry-After"] = str(retry_after_seconds())
        return response

    if isinstance(exc, ProtectedError | RestrictedError):
        # Deleting something other records still point at: the client's request conflicts
        # with the data, so say what holds it instead of failing with a 500.
        holders = sorted({str(obj._meta.verbose_name_plural) for obj in exc.args[1]})
        return Response(
            {
                "code": "protected",
                "message": f"It cannot be deleted while {', '.join(holders)} refer to it.",
                "referenced_by": holders,
            },
            status=status.HTTP_409_CONFLICT,
        )

    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        codes = set(_leaf_codes(exc.get_codes()))
        if codes and codes <= {"unique", "unique_together"}:
            # Only that it exists already: a conflict with the data, not a malformed request.
            response.data = {
                "code": "already_exists",
                "message": "It exists already.",
                "errors": errors,
            }
            response.status_code = status.HTTP_409_CONFLICT
        elif codes == {RULE}:
            response.data = {
                "code": "unprocessable",
                "message": "The request is well formed but breaks a rule.",
                "errors": errors,
            }
            response.status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
        else:
            response.data = {
                "code": "invalid",
                "message": "The request has invalid fields.",
                "errors": errors,
            }
            response.status_code = status.HTTP_400_BAD_REQUEST
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = {
            "code": codes if isinstance(codes, str) else "error",
            "message": _flatten_detail(exc.detail),
        }
    return response
