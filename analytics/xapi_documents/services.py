"""
Writes of the document resources (xAPI 1.0.3 Communication §2.2 and §3.1 "Concurrency").

- PUT stores the body as sent, with its content type; POST merges a JSON object into the
  stored JSON object (top-level keys of the new document replace the old ones) or, with no
  document stored, behaves as PUT.
- The ETag is the SHA-1 of the stored bytes. If-Match (an ETag or `*`) and If-None-Match
  (`*` or ETags) are honoured on PUT, POST and DELETE: a mismatch is 412, nothing written.
- A PUT to an Activity or Agent Profile document with neither header is refused: 409 when
  the document exists (§3.1), 400 when it does not (the client must say which it means,
  If-None-Match: * to create; the ADL conformance suite asks for exactly this). State
  documents are written without them ("state conflicts are unlikely", §3.1) in xAPI
  1.0.3; xAPI 2.0 has State follow the same concurrency rules, except that a State
  document that does not exist yet may still be created without either header.
- The database's unique constraint decides races: two writers creating the same document
  never make two rows; the loser is handled as if it had come second.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from analytics.documents import loads_strict
from analytics.models import DocumentKind, XapiDocument
from analytics.xapi_documents.errors import (
    DocumentConflictError,
    DocumentMergeError,
    DocumentPreconditionError,
    DocumentPreconditionMissingError,
)

JSON = "application/json"


@dataclass(frozen=True)
class DocumentName:
    """What names one document: parts a kind does not use stay ''."""

    kind: str
    document_id: str
    activity_id: str = ""
    agent_key: str = ""
    registration: str = ""

    def lookup(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Preconditions:
    """If-Match / If-None-Match as sets of ETags (`*` for any); None when not sent."""

    if_match: frozenset[str] | None = None
    if_none_match: frozenset[str] | None = None

    @property
    def given(self) -> bool:
        return self.if_match is not None or self.if_none_match is not None

    def check(self, current: XapiDocument | None) -> None:
        if self.if_match is not None and (
            current is None or ("*" not in self.if_match and current.etag not in self.if_match)
        ):
            raise DocumentPreconditionError(
                "If-Match does not match the stored document's ETag."
                if current
                else "If-Match was sent but no such document is stored."
            )
        if (
            self.if_none_match is not None
            and current is not None
            and ("*" in self.if_none_match or current.etag in self.if_none_match)
        ):
            raise DocumentPreconditionError("If-None-Match: the document already exists.")


@dataclass(frozen=True)
class Body:
    """A request body with its media type (parameters such as charset dropped)."""

    content: bytes
    content_type: str

    @property
    def is_json(self) -> bool:
        return self.content_type == JSON

    def json_object(self) -> dict[str, Any]:
        parsed = parse_json(self.content)
        if not isinstance(parsed, dict):
            raise DocumentMergeError("POST with application/json needs a JSON object body.")
        return parsed


def parse_json(content: bytes) -> Any:
    """The body as JSON, or 400 (NaN and Infinity are not JSON)."""
    try:
        return loads_strict(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DocumentMergeError(f"The body is not valid JSON: {exc}") from exc


def etag_of(content: bytes) -> str:
    return hashlib.sha1(content, usedforsecurity=False).hexdigest()


def _values(body: Body, *, agent: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "content": body.content,
        "content_type": body.content_type,
        "etag": etag_of(body.content),
        "agent": agent,
        "updated_at": timezone.now(),
    }


def _locked_write(
    name: DocumentName,
    *,
    preconditions: Preconditions,
    values_for: Callable[[XapiDocument | None], dict[str, Any]],
) -> XapiDocument:
    """Lock the document (if stored), check, write. A writer that loses the race to create
    it locks the winner's row and decides again, as if it had arrived second."""
    for _ in range(3):
        with transaction.atomic():
            current = XapiDocument.objects.select_for_update().filter(**name.lookup()).first()
            preconditions.check(current)
            values = values_for(current)
            if current is not None:
                for field, value in values.items():
                    setattr(current, field, value)
                current.save(update_fields=list(values))
                return current
            try:
                with transaction.atomic():
                    return XapiDocument.objects.create(**name.lookup(), **values)
            except IntegrityError:
                continue
    raise DocumentConflictError("The document kept changing during the request; try again.")


def document_put(
    *,
    name: DocumentName,
    body: Body,
    agent: dict[str, Any] | None,
    preconditions: Preconditions,
    state_concurrency: bool = False,
) -> XapiDocument:
    """Store `body` as the document, replacing what is stored (see the module docstring).
    `state_concurrency` (xAPI 2.0): a State document that exists is not overwritten
    without If-Match or If-None-Match (409)."""
    if body.is_json:
        parse_json(body.content)
    state = name.kind == DocumentKind.STATE
    if state and not preconditions.given and not state_concurrency:
        # One INSERT … ON CONFLICT DO UPDATE: the hot path of SCORM-style state saving.
        values = _values(body, agent=agent)
        (document,) = XapiDocument.objects.bulk_create(
            [XapiDocument(**name.lookup(), **values)],
            update_conflicts=True,
            unique_fields=list(name.lookup()),
            update_fields=list(values),
        )
        return document

    def values_for(current: XapiDocument | None) -> dict[str, Any]:
        if not preconditions.given:
            if current is not None:
                raise DocumentConflictError()
            if not state:
                raise DocumentPreconditionMissingError()
        return _values(body, agent=agent)

    return _locked_write(name, preconditions=preconditions, values_for=values_for)


def document_merge(
    *, name: DocumentName, body: Body, agent: dict[str, Any] | None, preconditions: Preconditions
) -> XapiDocument:
    """POST: merge a JSON object into the stored JSON object, or store it if none is."""
    incoming = body.json_object() if body.is_json else None

    def values_for(current: XapiDocument | None) -> dict[str, Any]:
        if current is None:
            return _values(body, agent=agent)
        if incoming is None or not current.is_json:
            raise DocumentMergeError(
                "POST merges JSON into JSON only: "
                + ("the stored document is not JSON." if incoming is not None else "send JSON.")
            )
        stored = parse_json(bytes(current.content))
        if not isinstance(stored, dict):
            raise DocumentMergeError("The stored document is not a JSON object.")
        merged = json.dumps({**stored, **incoming}, separators=(",", ":")).encode()
        return _values(Body(merged, JSON), agent=agent)

    return _locked_write(name, preconditions=preconditions, values_for=values_for)


def document_delete(*, name: DocumentName, preconditions: Preconditions) -> None:
    """Delete one document (no error when none is stored, unless If-Match says otherwise)."""
    if not preconditions.given:
        XapiDocument.objects.filter(**name.lookup()).delete()
        return
    with transaction.atomic():
        current = XapiDocument.objects.select_for_update().filter(**name.lookup()).first()
        preconditions.check(current)
        if current is not None:
            current.delete()


def states_delete(*, activity_id: str, agent_key: str, registration: str | None) -> int:
    """DELETE without stateId: every State document of the activity and agent (of one
    registration when given). Returns how many went."""
    documents = XapiDocument.objects.filter(
        kind=DocumentKind.STATE, activity_id=activity_id, agent_key=agent_key
    )
    if registration is not None:
        documents = documents.filter(registration=registration)
    deleted, _ = documents.delete()
    return deleted
