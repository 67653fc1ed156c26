"""The base domain error every app's `errors.py` subclasses; the API maps it to a 4xx."""

from typing import Any


class DomainError(Exception):
    """A refusal by the domain, with a stable machine-readable `code` and an HTTP status."""

    code: str = "domain_error"
    status_code: int = 400
    default_message: str = "The request could not be completed."

    def __init__(self, message: str | None = None, *, code: str | None = None, **extra: Any):
        self.message = message or self.default_message
        if code:
            self.code = code
        self.extra = extra
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.extra:
            body["details"] = self.extra
        return body


class NotFoundError(DomainError):
    code = "not_found"
    status_code = 404
    default_message = "Not found."


class UnprocessableError(DomainError):
    """A well-formed request refused by a rule the schema cannot state: a limit that depends
    on configuration or on another field, a code or link that does not match (422)."""

    code = "unprocessable"
    status_code = 422
    default_message = "The request is well formed but breaks a rule."


class ConflictError(DomainError):
    code = "conflict"
    status_code = 409
    default_message = "The request conflicts with the current state."


class PermissionDeniedError(DomainError):
    code = "permission_denied"
    status_code = 403
    default_message = "You do not have permission to do this."


class ServiceUnavailableError(DomainError):
    code = "service_unavailable"
    status_code = 503
    default_message = "A service this request depends on is unavailable; try again later."
