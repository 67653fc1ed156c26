"""Reads of the learning record store and of the ETL's state."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Max, Min, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from analytics import consistency
from analytics.errors import RequestInvalidError, StatementNotFoundError
from analytics.models import EtlCheckpoint, Statement, StatementFlat


def statement_get(
    *, statement_id: uuid.UUID, voided: bool = False, credential_id: int | None = None
) -> Statement:
    """A statement by id; `voided=True` asks for a voided one (voidedStatementId);
    `credential_id` limits it to the statements that credential stored."""
    statements = Statement.objects.filter(pk=statement_id, voided=voided)
    if credential_id is not None:
        statements = statements.filter(credential_id=credential_id)
    statement = statements.first()
    if statement is None:
        raise StatementNotFoundError(
            f"No {'voided ' if voided else ''}statement {statement_id}.",
            statement_id=str(statement_id),
        )
    return statement


def statement_consistent_through() -> datetime:
    """X-Experience-API-Consistent-Through: every statement stored at or before it that
    will ever be visible already is (analytics.consistency says why). Call it before the
    query whose page it heads."""
    if connection.vendor != "postgresql":
        return timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(consistency.CONSISTENT_THROUGH_SQL)
        (value,) = cursor.fetchone()
    return value


@dataclass
class StatementFilters:
    agent: str | None = None  # agent key (analytics.documents.agent_key)
    verb: str | None = None
    activity: str | None = None
    registration: uuid.UUID | None = None
    related_activities: bool = False
    related_agents: bool = False
    since: datetime | None = None
    until: datetime | None = None
    ascending: bool = False
    credential_id: int | None = None  # only what this credential stored (read/mine)


@dataclass
class StatementPage:
    statements: list[Statement]
    next_cursor: str | None
    extra: dict[str, Any] = field(default_factory=dict)


def _refs_contains(queryset: QuerySet, key: str, value: str) -> QuerySet:
    if connection.vendor == "postgresql":
        return queryset.filter(refs__contains={key: [value]})
    # Embedded SQLite has no JSON containment: match the quoted value in the array's text.
    return queryset.filter(**{f"refs__{key}__icontains": json.dumps(value)})


def encode_cursor(statement: Statement) -> str:
    raw = f"{statement.stored.isoformat()}|{statement.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        stored_text, _, statement_id = base64.urlsafe_b64decode(padded).decode().partition("|")
        stored = parse_datetime(stored_text)
        if stored is None:
            raise ValueError(stored_text)
        return stored, uuid.UUID(statement_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestInvalidError("cursor: not a cursor this store issued") from exc


def statement_list(
    *, filters: StatementFilters, limit: int, cursor: str | None = None
) -> StatementPage:
    """
    Non-voided statements matching the filters (or targeting, by StatementRef, a
    statement that does), newest stored first unless ascending,
    `limit` per page. The cursor is the (stored, id) of the last row served, so pages
    stay stable while statements keep arriving.
    """
    matching = Statement.objects.all()
    if filters.agent:
        key = "related_agents" if filters.related_agents else "agents"
        matching = _refs_contains(matching, key, filters.agent)
    if filters.activity:
        key = "related_activities" if filters.related_activities else "activities"
        matching = _refs_contains(matching, key, filters.activity)
    if filters.verb:
        matching = matching.filter(verb_id=filters.verb)
    if filters.registration:
        matching = matching.filter(registration=filters.registration)
    queryset = Statement.objects.filter(voided=False)
    if filters.credential_id is not None:
        queryset = queryset.filter(credential_id=filters.credential_id)
    if any((filters.agent, filters.activity, filters.verb, filters.registration)):
        # xAPI 1.0.3 (Communication §2.1.3): a statement whose object is a StatementRef
        # meets the (non-time) filters when the statement it targets does.
        targets = matching.annotate(ref=Cast("id", TextField())).values("ref")
        queryset = queryset.filter(
            Q(pk__in=matching.values("pk")) | Q(object_type="StatementRef", object_id__in=targets)
        )
    if filters.since:
        queryset = queryset.filter(stored__gt=filters.since)
    if filters.until:
        queryset = queryset.filter(stored__lte=filters.until)
    if cursor:
        stored, last_id = _decode_cursor(cursor)
        if filters.ascending:
            queryset = queryset.filter(Q(stored__gt=stored) | Q(stored=stored, id__gt=last_id))
        else:
            queryset = queryset.filter(Q(stored__lt=stored) | Q(stored=stored, id__lt=last_id))
    order = ("stored", "id") if filters.ascending else ("-stored", "-id")
    rows = list(queryset.order_by(*order).only("id", "data", "stored")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return StatementPage(statements=rows, next_cursor=encode_cursor(rows[-1]) if more else None)


# --- ETL state --------------------------------------------------------------------------


@dataclass(frozen=True)
class EtlLag:
    mode: str
    unflattened: int
    oldest_unflattened_stored: datetime | None
    lag_seconds: float
    last_stored: datetime | None
    last_flattened: datetime | None
    stream_length: int | None
    stream_pending: int | None


def etl_lag() -> EtlLag:
    """How far the flattened table trails the store (for the admin and /healthz)."""
    from analytics import etl

    watermark = EtlCheckpoint.objects.filter(name=etl.SWEEP_CHECKPOINT).first()
    since = (
        watermark.position_stored
        if watermark and watermark.position_stored
        else timezone.now() - timedelta(days=36500)
    )
    unflattened = Statement.objects.filter(stored__gte=since, flat__isnull=True)
    summary = unflattened.aggregate(oldest=Min("stored"))
    count = unflattened.count()
    oldest = summary["oldest"]
    stream = etl.stream_state()
    return EtlLag(
        mode=settings.ETL_MODE,
        unflattened=count,
        oldest_unflattened_stored=oldest,
        lag_seconds=(timezone.now() - oldest).total_seconds() if oldest else 0.0,
        last_stored=Statement.objects.aggregate(v=Max("stored"))["v"],
        last_flattened=StatementFlat.objects.aggregate(v=Max("flattened_at"))["v"],
        stream_length=stream.get("length"),
        stream_pending=stream.get("pending"),
    )
