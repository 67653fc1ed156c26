"""Refusals of the document resources, each a JSON reason with its HTTP status."""

from analytics.errors import XapiError
from core.errors import ConflictError, NotFoundError


class DocumentNotFoundError(XapiError, NotFoundError):
    code = "document_not_found"
    status_code = 404
    default_message = "No such document."


class DocumentConflictError(XapiError, ConflictError):
    """PUT onto an existing profile document without If-Match or If-None-Match."""

    code = "document_conflict"
    status_code = 409
    default_message = (
        "The document already exists: send If-Match with its ETag to replace it, "
        "or If-None-Match: * to create it only if it is absent."
    )


class DocumentPreconditionMissingError(XapiError):
    """PUT of a new profile document without If-None-Match: * (or If-Match)."""

    code = "precondition_required"
    default_message = (
        "A PUT to a profile document needs If-None-Match: * to create it, "
        "or If-Match with its ETag to replace it."
    )


class DocumentPreconditionError(XapiError):
    code = "precondition_failed"
    status_code = 412
    default_message = "The document's ETag does not satisfy If-Match / If-None-Match."


class DocumentTooLargeError(XapiError):
    code = "document_too_large"
    status_code = 413
    default_message = "The document is larger than this store accepts."


class DocumentMergeError(XapiError):
    """POST can merge only a JSON object into a JSON object (Communication §2.2)."""

    code = "invalid_document"
    default_message = "POST merges a JSON object into a JSON object document only."
