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
    422  well formed, but breaks a rule the schema cannot state: a rule across fields, a
         limit that depends on configuration, a code or link that does not match
         (core.api.exceptions.rule_violation, core.errors.UnprocessableError)
    429  the view is throttled
    503  always: a dependency that is down is a 503 with Retry-After, never a 500
"""

from __future__ import annotations

from django.core.validators import EmailValidator
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
    "422": "Well formed, but breaks a rule the schema cannot state (see `errors`).",
    "429": "Throttled; retry after the Retry-After header's seconds.",
    "503": "A service this request depends on is unavailable; see Retry-After.",
}
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# What Django's EmailValidator accepts, as a pattern (ASCII; no quoted local parts, no IP
# literals): JSON Schema's "email" format admits addresses it refuses.
_EMAIL = (
    r"^[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
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
        if not token_view:
            statuses.append("422")
        if hasattr(view, "get_throttles") and view.get_throttles():
            statuses.append("429")
        return sorted(set(statuses))

    _direction = "response"

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        self._direction = direction  # for _insert_field_validators, which is not told
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.TimeField) and schema.get("format") == "time":
            # JSON Schema's "time" is RFC 3339's full-time, which needs a UTC offset; DRF
            # reads and writes local wall-clock times ("09:00:00"), so say exactly that.
            del schema["format"]
            schema["pattern"] = _WALL_CLOCK_TIME
            schema.setdefault("example", "09:00:00")
        if (
            direction == "request"
            and isinstance(field, serializers.ListSerializer | serializers.ListField)
            and not field.allow_empty
        ):
            schema["minItems"] = max(schema.get("minItems", 0), 1)
        return schema

    def _insert_field_validators(self, field, schema):
        """Say in the schema what DRF refuses beyond the field's type and validators."""
        super()._insert_field_validators(field, schema)
        if schema.get("type") != "string":
            return
        if isinstance(field, serializers.EmailField) or any(
            isinstance(v, EmailValidator) for v in field.validators
        ):
            # Both ways: what was accepted is what is answered.
            schema.pop("format", None)
            schema["pattern"] = f"^$|{_EMAIL}" if getattr(field, "allow_blank", False) else _EMAIL
        elif (
            self._direction == "request"
            and isinstance(field, serializers.CharField)
            and field.trim_whitespace
            and not field.allow_blank
            and "pattern" not in schema
        ):
            # DRF trims whitespace (str.strip) before it checks for blank: "  " is refused.
            # Python's whitespace also holds \x1c-\x1f and \x85, which ECMA's \s does not.
            schema["pattern"] = r"[^\s\u001c-\u001f\u0085]"

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
