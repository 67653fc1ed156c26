"""
Writes of the learning record store.

`statements_store()` is the one way statements get in (the xAPI API, `record_statement()`
for Frontline's own events, the outbox handlers): validate everything first. A batch of
new statements outside any transaction is then one autocommit INSERT (small batches) or
COPY (large ones), all or nothing. Anything else (a repeated id, a voiding statement, a
caller's transaction) takes one transaction with a multi-row INSERT … ON CONFLICT DO
NOTHING RETURNING id: ids that did not insert already exist, identical content is
accepted, different content raises 409 and rolls the whole batch back. The caller's
200/204 follows the commit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from analytics import consistency, documents
from analytics.attachments import attachments_store, declares_any, parts_by_hash
from analytics.cors import normalize_origin
from analytics.errors import StatementConflictError, StatementInvalidError
from analytics.models import Statement, StatementFlat, XapiCredential, XapiScope
from analytics.multipart import Part
from analytics.signatures import verify_signatures
from analytics.validation import (
    VOIDED_VERB,
    XAPI_1_0,
    XAPI_2_0,
    parse_timestamp,
    validate_statement,
)
from core.errors import PermissionDeniedError

# The `version` a statement is stored with when its author gave none, by the request's
# version (xAPI 1.0.3 Data §2.4.10; 2.0 has the store set 2.0.0).
STORE_VERSIONS = {XAPI_1_0: "1.0.0", XAPI_2_0: "2.0.0"}
STORE_VERSION = STORE_VERSIONS[XAPI_1_0]


@dataclass(frozen=True)
class _Prepared:
    id: uuid.UUID
    data: dict[str, Any]
    timestamp: datetime
    actor_key: str
    verb_id: str
    object_type: str
    object_id: str
    registration: str | None
    refs: dict[str, list[str]]
    voids_id: uuid.UUID | None
    timestamp_authored: bool


def system_authority() -> dict[str, Any]:
    """The authority of statements Frontline records about itself."""
    return {
        "objectType": "Agent",
        "name": "Frontline",
        "account": {"homePage": settings.XAPI_BASE_IRI, "name": "frontline"},
    }


def credential_authority(credential: XapiCredential) -> dict[str, Any]:
    return {
        "objectType": "Agent",
        "name": credential.name,
        "account": {"homePage": f"{settings.XAPI_BASE_IRI}/xapi/clients", "name": credential.key},
    }


def _prepare(
    raw: Any,
    *,
    index: int | None,
    stored_text: str,
    authority: dict[str, Any],
    version: str,
) -> _Prepared:
    path = "statement" if index is None else f"statements[{index}]"
    validate_statement(raw, path, version=version)
    data = dict(raw)
    timestamp_authored = "timestamp" in data
    statement_id = uuid.UUID(data["id"]) if "id" in data else uuid.uuid4()
    data["id"] = str(statement_id)
    documents.normalize_context_activities(data)
    data["stored"] = stored_text
    data.setdefault("timestamp", stored_text)
    data["authority"] = authority
    data.setdefault("version", STORE_VERSIONS[version])
    object_type, object_id = documents.object_reference(data["object"])
    registration = data.get("context", {}).get("registration")
    verb_id = data["verb"]["id"]
    return _Prepared(
        id=statement_id,
        data=data,
        timestamp=parse_timestamp(data["timestamp"], f"{path}.timestamp"),
        actor_key=documents.agent_key(data["actor"]),
        verb_id=verb_id,
        object_type=object_type,
        object_id=object_id,
        registration=registration.lower() if registration else None,
        refs=documents.statement_refs(data),
        voids_id=uuid.UUID(object_id) if verb_id == VOIDED_VERB else None,
        timestamp_authored=timestamp_authored,
    )


_COLUMNS = (
    "id, data, stored, timestamp, actor_key, verb_id, object_type, object_id, registration, "
    "refs, voids_id, voided, credential_id"
)


def _json(value: Any) -> str:
    # orjson: the ingest path serialises every statement once more, ~10x faster than json.
    # It refuses integers beyond 64 bits, which JSON (and jsonb) allow: json takes those.
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, cls=DjangoJSONEncoder, separators=(",", ":"))


def _insert(
    rows: list[_Prepared],
    *,
    stored: datetime,
    credential_id: int | None,
    skip_existing: bool = True,
) -> set:
    """
    Insert what is new; return the ids that were inserted (others already existed).
    With skip_existing=False an existing id fails the whole statement (IntegrityError).
    """
    if connection.vendor != "postgresql":
        existing = set(
            Statement.objects.filter(pk__in=[r.id for r in rows]).values_list("pk", flat=True)
        )
        Statement.objects.bulk_create(
            [
                _model(row, stored=stored, credential_id=credential_id)
                for row in rows
                if row.id not in existing
            ],
            ignore_conflicts=True,
        )
        return {row.id for row in rows} - existing
    # One statement and one parameter whatever the batch size: the rows travel as a JSON
    # array unpacked by jsonb_to_recordset (hundreds of bind parameters cost more to send
    # than the insert itself), and `voided` is true for a statement whose voiding
    # statement arrived first from someone allowed to void it (see _may_void).
    payload = _json(
        [
            {
                "id": row.id,
                "data": row.data,
                "timestamp": row.timestamp,
                "actor_key": row.actor_key,
                "verb_id": row.verb_id,
                "object_type": row.object_type,
                "object_id": row.object_id,
                "registration": row.registration,
                "refs": row.refs,
                "voids_id": row.voids_id,
                "authored": row.timestamp_authored,
            }
            for row in rows
        ]
    )
    table = Statement._meta.db_table
    credentials = XapiCredential._meta.db_table
    # Only the table names and a fixed clause are formatted in; values are bound.
    # `stored` is the database's clock, read in this statement (analytics.consistency).
    stamp = consistency.STORED_TEXT_SQL
    sql = f"""
        WITH {consistency.STAMP_CTE}
        INSERT INTO {table} ({_COLUMNS})
        SELECT v.id,
               v.data || CASE WHEN v.authored THEN jsonb_build_object('stored', {stamp})
                         ELSE jsonb_build_object('stored', {stamp}, 'timestamp', {stamp}) END,
               ingest_clock.stored,
               CASE WHEN v.authored THEN v.timestamp ELSE ingest_clock.stored END,
               v.actor_key, v.verb_id, v.object_type,
               v.object_id, v.registration, v.refs, v.voids_id,
               EXISTS (
                   SELECT 1 FROM {table} s LEFT JOIN {credentials} c ON c.id = s.credential_id
                   WHERE s.voids_id = v.id
                     AND (s.credential_id IS NULL
                          OR (%s::bigint IS NOT NULL
                              AND (s.credential_id = %s::bigint
                                   OR c.scopes @> '["all"]'::jsonb)))
               ),
               %s::bigint
        FROM ingest_clock, jsonb_to_recordset(%s::jsonb) AS v(id uuid, data jsonb,
             timestamp timestamptz, actor_key text, verb_id text, object_type text,
             object_id text, registration uuid, refs jsonb, voids_id uuid, authored boolean)
        {"ON CONFLICT (id) DO NOTHING" if skip_existing else ""}
        RETURNING id
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [credential_id, credential_id, credential_id, payload])
        return {uuid.UUID(str(r[0])) for r in cursor.fetchall()}


def _copy_new(rows: list[_Prepared], *, stored: datetime, credential_id: int | None) -> bool:
    """
    PostgreSQL, autocommit: store a batch of new, non-voiding statements with one COPY,
    atomic and durable on its own (COPY is the cheapest way in, and with no BEGIN/COMMIT
    round trips). False, with nothing written, when a voiding statement for one of them
    is already stored (the INSERT path marks those voided); an id already stored fails
    the whole COPY with IntegrityError, also with nothing written.
    """
    table = Statement._meta.db_table
    # One probe of the partial voids_id index per id, whatever the planner thinks of
    # the table's statistics (`voids_id = ANY(...)` can turn into a sequential scan).
    # It opens the COPY's transaction and reads `stored` from the database's clock
    # (analytics.consistency), all in one round trip; the COPY commits at the block's end.
    probe = f"""EXISTS (SELECT 1 FROM batch
                WHERE EXISTS (SELECT 1 FROM {table} s WHERE s.voids_id = batch.id))"""  # noqa: S608
    with (
        connection.cursor() as cursor,
        consistency.stamped_transaction(cursor, probe_sql=probe, ids=[r.id for r in rows]) as (
            stored,
            voided_first,
        ),
    ):
        if voided_first:
            return False
        # Each row stored at `stored` (and timestamped then, unless its author gave a
        # timestamp); the text once for the batch, each document copied once.
        text = consistency.stored_text(stored)
        # COPY bypasses Django's execute(), so map psycopg's errors (IntegrityError) here.
        sql = f"COPY {table} ({_COLUMNS}) FROM STDIN"
        with connection.wrap_database_errors, cursor.copy(sql) as copy:
            for row in rows:
                data = {**row.data, "stored": text}
                if not row.timestamp_authored:
                    data["timestamp"] = text
                copy.write_row(
                    (
                        row.id,
                        _json(data),
                        stored,
                        row.timestamp if row.timestamp_authored else stored,
                        row.actor_key,
                        row.verb_id,
                        row.object_type,
                        row.object_id,
                        row.registration,
                        _json(row.refs),
                        None,
                        False,
                        credential_id,
                    )
                )
    return True


def _model(row: _Prepared, *, stored: datetime, credential_id: int | None) -> Statement:
    return Statement(
        id=row.id,
        data=row.data,
        stored=stored,
        timestamp=row.timestamp,
        actor_key=row.actor_key,
        verb_id=row.verb_id,
        object_type=row.object_type,
        object_id=row.object_id,
        registration=row.registration,
        refs=row.refs,
        voids_id=row.voids_id,
        voided=any(
            _may_void(voider=voider, target_credential_id=credential_id)
            for voider in XapiCredential.objects.filter(
                pk__in=Statement.objects.filter(voids_id=row.id).values("credential_id")
            )
        )
        or Statement.objects.filter(voids_id=row.id, credential__isnull=True).exists(),
        credential_id=credential_id,
    )


def _may_void(*, voider: XapiCredential | None, target_credential_id: int | None) -> bool:
    """Frontline (no credential) voids anything; a client voids what it stored itself, or
    (scope `all`) any client's statements; Frontline's own statements, no client."""
    if voider is None:
        return True
    if target_credential_id is None:
        return False
    return target_credential_id == voider.pk or voider.voids_any


def _apply_voiding(
    rows: list[_Prepared], inserted: set, *, credential: XapiCredential | None
) -> None:
    """Mark the targets of new voiding statements voided; refuse to void a voiding statement,
    and (403) a statement the credential may not void. One query for the whole batch."""
    voiding = [row for row in rows if row.voids_id and row.id in inserted]
    if not voiding:
        return
    targets = {row.voids_id for row in voiding}
    batch_verbs = {row.id: row.verb_id for row in rows}
    stored = Statement.objects.filter(pk__in=targets).values_list("pk", "verb_id", "credential_id")
    stored_verbs = {pk: verb for pk, verb, _ in stored}
    for pk, _, owner in stored:
        if not _may_void(voider=credential, target_credential_id=owner):
            raise PermissionDeniedError(
                f"statement {pk} cannot be voided by this client: "
                + (
                    "Frontline recorded it itself."
                    if owner is None
                    else "another client stored it (voiding those needs the `all` scope)."
                ),
                statement_id=str(pk),
            )
    for row in voiding:
        if VOIDED_VERB in (batch_verbs.get(row.voids_id), stored_verbs.get(row.voids_id)):
            raise StatementInvalidError(
                f"statement {row.id} voids {row.voids_id}, itself a voiding statement; "
                "a voiding statement cannot be voided",
                path="object.id",
            )
    Statement.objects.filter(pk__in=targets, voided=False).update(voided=True)
    StatementFlat.objects.filter(statement_id__in=targets, voided=False).update(voided=True)


def statements_store(
    *,
    statements: Sequence[Any],
    authority: dict[str, Any] | None = None,
    credential: XapiCredential | None = None,
    single: bool = False,
    attachments: Sequence[Part] = (),
    version: str = XAPI_1_0,
) -> list[uuid.UUID]:
    """
    Validate and store a batch of statements, all or none; return their ids in order.

    `version` is the xAPI version the statements are checked against (the request's).
    The authority is the credential's (or Frontline's own), whatever the client sent.
    `attachments` are the raw parts of a multipart/mixed request: each must belong to an
    attachment the statements declare, each declared attachment without a fileUrl needs
    one, and signatures among them must sign their statements (analytics.signatures).
    Parts are stored with the statements, in one transaction.
    """
    if not statements:
        raise StatementInvalidError("statements: the array is empty", path="statements")
    if len(statements) > settings.XAPI_MAX_BATCH:
        raise StatementInvalidError(
            f"statements: at most {settings.XAPI_MAX_BATCH} per request", path="statements"
        )
    stored = timezone.now()
    if authority is None:
        authority = credential_authority(credential) if credential else system_authority()
    stored_text = consistency.stored_text(stored)
    rows = [
        _prepare(
            raw,
            index=None if single else i,
            stored_text=stored_text,
            authority=authority,
            version=version,
        )
        for i, raw in enumerate(statements)
    ]
    ids = [row.id for row in rows]
    if len(set(ids)) != len(ids):
        raise StatementInvalidError("statements: the batch repeats a statement id", path="id")
    if attachments or any(declares_any(raw) for raw in statements):
        parts = parts_by_hash(statements, attachments)
        for index, raw in enumerate(statements):
            verify_signatures(raw, parts, "statement" if single else f"statements[{index}]")
        if parts:
            with transaction.atomic():
                attachments_store(parts.values())
                return _store_rows(rows, ids=ids, stored=stored, credential=credential)
    return _store_rows(rows, ids=ids, stored=stored, credential=credential)


def _store_rows(
    rows: list[_Prepared],
    *,
    ids: list[uuid.UUID],
    stored: datetime,
    credential: XapiCredential | None,
) -> list[uuid.UUID]:
    credential_id = credential.pk if credential else None
    if (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and not any(row.voids_id for row in rows)
    ):
        # Fast path, atomic and durable on its own in autocommit, with no BEGIN/COMMIT round
        # trips: one INSERT for a few statements, a probe and a COPY from
        # XAPI_COPY_MIN_BATCH on (measured: the INSERT is ~25% faster up to 10 rows, COPY
        # ~10-15% faster at 50). Any id already stored, or (COPY) a statement voided before
        # it arrived, leaves nothing written; the transactional path below then sorts
        # repeats from conflicts and marks the voided.
        try:
            if len(rows) >= settings.XAPI_COPY_MIN_BATCH:
                stored_all = _copy_new(rows, stored=stored, credential_id=credential_id)
            else:
                _insert(rows, stored=stored, credential_id=credential_id, skip_existing=False)
                stored_all = True
        except IntegrityError:
            stored_all = False
        if stored_all:
            from analytics import etl

            etl.enqueue([str(i) for i in ids])
            return ids
    return _store_in_transaction(rows, ids=ids, stored=stored, credential=credential)


@transaction.atomic
def _store_in_transaction(
    rows: list[_Prepared],
    *,
    ids: list[uuid.UUID],
    stored: datetime,
    credential: XapiCredential | None,
) -> list[uuid.UUID]:
    credential_id = credential.pk if credential else None
    inserted = _insert(rows, stored=stored, credential_id=credential_id)
    if len(inserted) != len(rows):
        existing = dict(
            Statement.objects.filter(pk__in=[i for i in ids if i not in inserted]).values_list(
                "pk", "data"
            )
        )
        for row in rows:
            if row.id in existing and not _same(existing[row.id], row):
                raise StatementConflictError(
                    f"statement {row.id} is already stored with different content",
                    statement_id=str(row.id),
                )
    # In-batch voiding: the INSERT's EXISTS cannot see rows of the same statement.
    _apply_voiding(rows, inserted, credential=credential)
    if inserted:
        from analytics import etl

        transaction.on_commit(lambda: etl.enqueue([str(i) for i in ids if i in inserted]))
    return ids


def _same(stored: dict[str, Any], row: _Prepared) -> bool:
    if row.timestamp_authored:
        return documents.same_statement(stored, row.data)
    # A timestamp the store filled in is not the author's: leave it out of the comparison.
    without = {k: v for k, v in row.data.items() if k != "timestamp"}
    return documents.same_statement({k: v for k, v in stored.items() if k != "timestamp"}, without)


def record_statement(*, statement: dict[str, Any]) -> uuid.UUID:
    """Record one of Frontline's own learning events; an identical repeat is a no-op."""
    return statements_store(statements=[statement], single=True)[0]


# --- credentials ------------------------------------------------------------------------


def secret_digest(secret: str) -> str:
    return hmac.new(
        settings.XAPI_CREDENTIAL_KEY.encode(), secret.encode(), hashlib.sha256
    ).hexdigest()


@dataclass(frozen=True)
class IssuedCredential:
    credential: XapiCredential
    secret: str  # shown once; only its digest is stored


@transaction.atomic
def xapi_credential_create(
    *,
    name: str,
    scopes: list[str] | None = None,
    rate_per_minute: int | None = None,
    burst: int | None = None,
    allowed_origins: list[str] | None = None,
    acting_user=None,
) -> IssuedCredential:
    secret = secrets.token_urlsafe(32)
    credential = XapiCredential(
        name=name,
        key=secrets.token_hex(12),
        secret_hash=secret_digest(secret),
        created_by=acting_user if getattr(acting_user, "pk", None) else None,
    )
    if scopes is not None:
        unknown = set(scopes) - set(XapiScope.values)
        if unknown:
            raise ValidationError({"scopes": f"Unknown xAPI scopes: {', '.join(sorted(unknown))}."})
        credential.scopes = sorted(set(scopes))
    if rate_per_minute is not None:
        credential.rate_per_minute = rate_per_minute
    if burst is not None:
        credential.burst = burst
    if allowed_origins is not None:
        credential.allowed_origins = sorted({normalize_origin(o) for o in allowed_origins})
    credential.full_clean()
    credential.save()
    return IssuedCredential(credential=credential, secret=secret)


@transaction.atomic
def xapi_credential_revoke(*, credential: XapiCredential, acting_user=None) -> XapiCredential:
    credential = XapiCredential.objects.select_for_update().get(pk=credential.pk)
    if credential.is_active:
        credential.is_active = False
        credential.revoked_at = timezone.now()
        credential.save(update_fields=["is_active", "revoked_at"])
    from analytics import auth

    # Now, and again after commit in case a request re-cached it in between.
    auth.forget(credential.key)
    transaction.on_commit(lambda: auth.forget(credential.key))
    return credential
