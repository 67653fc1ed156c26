"""Refusals of the learning record store; the xAPI views turn each into a JSON reason."""

from core.errors import ConflictError, DomainError, NotFoundError


class XapiError(DomainError):
    code = "xapi_error"


class StatementInvalidError(XapiError):
    """A statement breaks a rule of its xAPI version; `path` says where (e.g. `[3].actor.mbox`)."""

    code = "invalid_statement"
    default_message = "The statement is not valid xAPI."


class RequestInvalidError(XapiError):
    code = "invalid_request"
    default_message = "The request is not valid for the Statement Resource."


class VersionHeaderError(XapiError):
    code = "unsupported_version"
    default_message = "X-Experience-API-Version must be 1.0.x or 2.0.x."


class StatementConflictError(XapiError, ConflictError):
    code = "statement_conflict"
    status_code = 409
    default_message = "A different statement with this id is already stored."


class StatementNotFoundError(XapiError, NotFoundError):
    code = "statement_not_found"
    status_code = 404
    default_message = "No such statement."


class CredentialInvalidError(XapiError):
    code = "unauthorized"
    status_code = 401
    default_message = "Valid xAPI client credentials are required (HTTP Basic)."


class CredentialLockedError(XapiError):
    code = "too_many_failures"
    status_code = 429
    default_message = "Too many failed sign-ins from this client; try again later."
