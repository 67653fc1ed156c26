"""
The OpenAPI schema tells every status an operation can answer, not only its success.

drf-spectacular documents the success response of each view; the refusals come from
shared places (core.input, authentication, permissions, throttles, core.api.exceptions),
so this AutoSchema adds them where they apply, each with the one `Error` body:

    400  always: core.input refuses malformed input on every path, serializers refuse fields
    401  the view authenticates (a bad or expired token is refused before any permission),
         or, like the token endpoints (open to anyone), checks credentials in its body
    403  the view checks more than "signed in" (a permission of its own, even one built on
         IsAuthenticated), or accepts session auth on an unsafe method (CSRF)
    404  a lookup found nothing: the path's object, the caller's learner record, a page
         past the end (every operation but the token endpoints)
    409  the method changes state (domain conflicts, deletes of referenced rows)
    429  the view is throttled
    503  always: a dependency that is down is a 503 with Retry-After, never a 500
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework_simplejwt.views import TokenViewBase


class ErrorSerializer(serializers.Serializer):
    """The body of every refusal (core.api.exceptions, core.input, DomainError.as_dict)."""

    code = serializers.CharField(help_text="Stable machine-readable reason, e.g. `invalid`.")
    message = serializers.CharField()
    errors = serializers.DictField(
        required=False,
        help_text="Field name → messages, nested like the request (validation errors only).",
    )
    details = serializers.DictField(required=False, help_text="Reason-specific facts.")

    class Meta:
        ref_name = "Error"


_DESCRIPTIONS = {
    "400": "Invalid input: malformed request or field errors.",
    "401": "Authentication required, or the credentials are not valid.",
    "403": "Authenticated, but not allowed to do this.",
    "404": "No such object.",
    "409": "The request conflicts with the current state.",
    "429": "Throttled; retry after the Retry-After header's seconds.",
    "503": "A service this request depends on is unavailable; see Retry-After.",
}
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_WALL_CLOCK_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"
_SIGNED_IN_ONLY = {permissions.AllowAny.has_permission, permissions.IsAuthenticated.has_permission}


def _checks_only_signed_in(permission: permissions.BasePermission) -> bool:
    """AllowAny or IsAuthenticated as they are: a subclass that decides for itself (a
    named permission, an object check) can refuse with 403."""
    kind = type(permission)
    return (
        kind.has_permission in _SIGNED_IN_ONLY
        and kind.has_object_permission is permissions.BasePermission.has_object_permission
    )


class FrontlineAutoSchema(AutoSchema):
    def _error_statuses(self) -> list[str]:
        view, method = self.view, self.method
        statuses = ["400", "503"]
        authenticators = view.get_authenticators() if hasattr(view, "get_authenticators") else []
        perms = view.get_permissions() if hasattr(view, "get_permissions") else []
        # The token views (simplejwt's and core.tokens' subclasses) authenticate no caller
        # but check the credentials (or token) in their body, and own no objects: 401, but
        # neither 404 nor 409.
        token_view = isinstance(view, TokenViewBase)
        if authenticators or token_view:
            statuses.append("401")
        stricter = any(not _checks_only_signed_in(p) for p in perms)
        csrf = method in _UNSAFE and any(
            isinstance(a, SessionAuthentication) for a in authenticators
        )
        if stricter or csrf:
            statuses.append("403")
        if not token_view:
            statuses.append("404")
        if method in _UNSAFE and not token_view:
            statuses.append("409")
        if hasattr(view, "get_throttles") and view.get_throttles():
            statuses.append("429")
        return sorted(set(statuses))

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.TimeField) and schema.get("format") == "time":
            # JSON Schema's "time" is RFC 3339's full-time, which needs a UTC offset; DRF
            # reads and writes local wall-clock times ("09:00:00"), so say exactly that.
            del schema["format"]
            schema["pattern"] = _WALL_CLOCK_TIME
            schema.setdefault("example", "09:00:00")
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction=direction)
        if direction != "response":
            return responses
        for status in self._error_statuses():
            if status not in responses:
                error = OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[status])
                responses[status] = self._get_response_for_code(
                    error, status, media_types=["application/json"]
                )
        return responses
