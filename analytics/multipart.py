"""
The multipart/mixed wire format of the Statement Resource (Communication §1.5.2, §2.1.3).

A request's first part is the statements (application/json); each later part is one
attachment's raw bytes, with `X-Experience-API-Hash` (its SHA-2) and
`Content-Transfer-Encoding: binary`. Answers to `attachments=true` have the same shape.

Requests are parsed with the standard library's `email` package (BytesParser with the HTTP
policy) rather than a parser of our own: it implements RFC 2046's boundary rules (preamble,
epilogue, quoted boundary parameters, the CRLF that belongs to the delimiter) and reports
what it had to guess as defects, which are refused here. Bodies reach it already bounded
by DATA_UPLOAD_MAX_MEMORY_SIZE. Binary parts come back byte for byte: the parser keeps
the bytes it cannot decode as surrogate escapes and `get_payload(decode=True)` turns them
back, and only the line break before each delimiter is taken off.
"""

from __future__ import annotations

import email.parser
import email.policy
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from analytics.errors import RequestInvalidError

MULTIPART_MIXED = "multipart/mixed"
HASH_HEADER = "X-Experience-API-Hash"


@dataclass(frozen=True)
class Part:
    """One attachment part as sent: what it claims (`sha2`, lowercased) and its bytes."""

    sha2: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class MultipartBody:
    statements: bytes  # the first part: the statements' JSON, as sent
    parts: list[Part]


def _refuse(reason: str) -> RequestInvalidError:
    return RequestInvalidError(f"The multipart/mixed body is not valid: {reason}.")


def parse(content_type: str, body: bytes) -> MultipartBody:
    """The statements and attachment parts of a multipart/mixed request body (400 if the
    body is not one, or breaks the Statement Resource's rules for one)."""
    if "\r" in content_type or "\n" in content_type:
        raise _refuse("the Content-Type header spans lines")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    try:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    except RecursionError:  # the parser recurses into each multipart part nested in a part
        raise _refuse("it nests multipart parts too deep") from None
    if message.get_content_type() != MULTIPART_MIXED or not message.get_boundary():
        raise _refuse("the Content-Type header names no boundary")
    if message.defects or not message.is_multipart():
        names = ", ".join(type(defect).__name__ for defect in message.defects)
        raise _refuse(f"its boundaries do not delimit parts ({names or 'no parts'})")
    first, *rest = message.iter_parts()
    if first.get_content_type() != "application/json":
        raise _refuse("the first part must be the statements, as application/json")
    parts = []
    for index, part in enumerate(rest, start=1):
        if part.is_multipart():
            raise _refuse(f"part {index} is itself multipart; an attachment is one part")
        sha2 = (part.get(HASH_HEADER) or "").strip().lower()
        if not sha2:
            raise _refuse(f"part {index} has no {HASH_HEADER} header")
        encoding = (part.get("Content-Transfer-Encoding") or "").strip().lower()
        if encoding != "binary":
            raise _refuse(f"part {index} must have Content-Transfer-Encoding: binary")
        parts.append(
            Part(
                sha2=sha2,
                content_type=part.get_content_type(),
                content=part.get_payload(decode=True) or b"",
            )
        )
    return MultipartBody(statements=first.get_payload(decode=True) or b"", parts=parts)


def compose(document: bytes, attachments: Iterable[Part]) -> tuple[str, bytes]:
    """(Content-Type, body) of a multipart/mixed answer: the JSON document first, then
    each attachment once. The boundary is random and checked against every part."""
    attachments = list(attachments)
    contents = [document, *(attachment.content for attachment in attachments)]
    boundary = secrets.token_hex(16)
    while any(boundary.encode() in content for content in contents):
        boundary = secrets.token_hex(16)
    delimiter = f"--{boundary}\r\n".encode()
    chunks = [delimiter, b"Content-Type: application/json\r\n\r\n", document, b"\r\n"]
    for attachment in attachments:
        chunks += [
            delimiter,
            f"Content-Type: {attachment.content_type}\r\n"
            f"Content-Transfer-Encoding: binary\r\n"
            f"{HASH_HEADER}: {attachment.sha2}\r\n\r\n".encode(),
            attachment.content,
            b"\r\n",
        ]
    chunks.append(f"--{boundary}--\r\n".encode())
    return f"{MULTIPART_MIXED}; boundary={boundary}", b"".join(chunks)
