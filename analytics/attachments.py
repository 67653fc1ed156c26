"""
Raw statement attachments (Data §2.4.11): the rules a request's parts must meet, their
storage (once per SHA-2, `StatementAttachment`) and their retrieval for `attachments=true`.

Rules, checked before anything is written: every part's bytes hash to the SHA-2 its
X-Experience-API-Hash names, and a statement of the request declares that SHA-2; every
declared attachment without a fileUrl has its part; no part is larger than
XAPI_ATTACHMENT_MAX_BYTES.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings

from analytics.errors import RequestInvalidError, XapiError
from analytics.models import StatementAttachment
from analytics.multipart import Part

# SHA-2 by the length of its hex digest.
_SHA2_BY_LENGTH = {56: hashlib.sha224, 64: hashlib.sha256, 96: hashlib.sha384, 128: hashlib.sha512}


class AttachmentTooLargeError(XapiError):
    code = "attachment_too_large"
    status_code = 413
    default_message = "An attachment is larger than this store accepts."


def declared(statement: dict[str, Any]) -> list[dict[str, Any]]:
    """The attachments a statement declares, its SubStatement's included."""
    found = list(statement.get("attachments", ()))
    obj = statement.get("object")
    if isinstance(obj, dict) and obj.get("objectType") == "SubStatement":
        found += obj.get("attachments", ())
    return found


def declares_any(statement: dict[str, Any]) -> bool:
    """Whether `declared(statement)` would find anything (cheap: on every ingested statement)."""
    if "attachments" in statement:
        return True
    obj = statement.get("object")
    return "attachments" in obj and obj.get("objectType") == "SubStatement"


def _digest(sha2: str, content: bytes) -> str | None:
    algorithm = _SHA2_BY_LENGTH.get(len(sha2))
    return algorithm(content).hexdigest() if algorithm else None


def parts_by_hash(statements: Sequence[dict[str, Any]], parts: Sequence[Part]) -> dict[str, Part]:
    """The parts of a request keyed by SHA-2, once each rule above holds (400, 413)."""
    wanted = {
        # sha2 → whether it was declared without a fileUrl (so its part is required)
        str(attachment["sha2"]).lower(): "fileUrl" not in attachment
        for statement in statements
        for attachment in declared(statement)
    }
    by_hash: dict[str, Part] = {}
    for index, part in enumerate(parts, start=1):
        if len(part.content) > settings.XAPI_ATTACHMENT_MAX_BYTES:
            raise AttachmentTooLargeError(
                f"attachment part {index} is larger than "
                f"{settings.XAPI_ATTACHMENT_MAX_BYTES} bytes",
                sha2=part.sha2,
            )
        if _digest(part.sha2, part.content) != part.sha2:
            raise RequestInvalidError(
                f"attachment part {index}: its content does not hash to its "
                "X-Experience-API-Hash (a hex SHA-256, -384 or -512)",
                sha2=part.sha2,
            )
        if part.sha2 not in wanted:
            raise RequestInvalidError(
                f"attachment part {index} matches no attachment the statements declare",
                sha2=part.sha2,
            )
        by_hash[part.sha2] = part
    missing = sorted(sha2 for sha2, bare in wanted.items() if bare and sha2 not in by_hash)
    if missing:
        raise RequestInvalidError(
            "an attachment without fileUrl needs its raw data as a multipart/mixed part; "
            f"none was sent for sha2 {', '.join(missing)}",
            sha2=missing,
        )
    return by_hash


def attachments_store(parts: Iterable[Part]) -> None:
    """Store each part's bytes once per SHA-2 (a hash already stored keeps its row)."""
    StatementAttachment.objects.bulk_create(
        [
            StatementAttachment(
                sha2=part.sha2,
                content_type=part.content_type,
                length=len(part.content),
                content=part.content,
            )
            for part in parts
        ],
        ignore_conflicts=True,
    )


def _hashes(statement: dict[str, Any]) -> list[str]:
    return [str(attachment["sha2"]).lower() for attachment in declared(statement)]


def statements_within_budget(statements: Sequence[dict[str, Any]], budget: int) -> int:
    """How many of `statements`, from the first, fit in an answer whose stored attachments
    (each counted once) total at most `budget` bytes; never fewer than one."""
    wanted = {sha2 for statement in statements for sha2 in _hashes(statement)}
    if not wanted:
        return len(statements)
    sizes = dict(StatementAttachment.objects.filter(sha2__in=wanted).values_list("sha2", "length"))
    counted: set[str] = set()
    total = 0
    for index, statement in enumerate(statements):
        new = {sha2 for sha2 in _hashes(statement) if sha2 in sizes} - counted
        total += sum(sizes[sha2] for sha2 in new)
        if index and total > budget:
            return index
        counted |= new
    return len(statements)


def attachments_for(statements: Iterable[dict[str, Any]]) -> list[Part]:
    """The stored raw attachments of these statements, each SHA-2 once, in order."""
    hashes = list(dict.fromkeys(sha2 for statement in statements for sha2 in _hashes(statement)))
    if not hashes:
        return []
    rows = StatementAttachment.objects.filter(sha2__in=hashes).in_bulk()
    return [
        Part(sha2=sha2, content_type=rows[sha2].content_type, content=bytes(rows[sha2].content))
        for sha2 in hashes
        if sha2 in rows
    ]
