"""
ETL from the statement store to the flattened query table (seed 002 §a.05, §a.05b).

- `flatten_statement(data)` extracts the flat columns from one statement document.
- `flatten_ids(ids)` flattens those statements in one INSERT … ON CONFLICT DO NOTHING: the
  flat table's primary key is the statement id, so whoever flattens a statement second
  (stream consumer, sweep, a redelivered entry) inserts nothing.
- streaming (`ETL_MODE=streaming`): after commit, the stored ids go onto a Redis Stream
  (one entry per stored batch); `consume()` reads them through a consumer group in
  batches, flattens, acks, and first reclaims entries a dead consumer left pending
  (XAUTOCLAIM past ANALYTICS_ETL_CLAIM_IDLE_SECONDS) and re-reads its own unacked ones
  (a pass that failed midway).
- incremental (either mode): `sweep()` flattens every statement stored since the sweep's
  watermark that has no flat row, then moves the watermark to (its start minus a margin that
  covers transactions still open), so it also catches whatever the stream missed.
- `reflatten_range()` rewrites flat rows for a stored-time range (backfill), resumable.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from analytics import documents
from analytics.models import EtlCheckpoint, Statement, StatementFlat
from analytics.validation import parse_duration, parse_timestamp
from core.redis import get_redis

logger = logging.getLogger(__name__)

SWEEP_CHECKPOINT = "etl.sweep"
_FLAT_FIELDS = [
    "actor_key",
    "actor_name",
    "verb_id",
    "verb_display",
    "object_type",
    "object_id",
    "object_name",
    "activity_type",
    "result_success",
    "result_completion",
    "result_score_scaled",
    "result_score_raw",
    "result_duration",
    "registration",
    "platform",
    "timestamp",
    "stored",
    "voided",
]


def _first_text(language_map: dict[str, str] | None) -> str:
    if not language_map:
        return ""
    for tag in ("en-US", "en", "en-GB", "und"):
        if tag in language_map:
            return language_map[tag]
    return next(iter(language_map.values()))


def flatten_statement(data: dict[str, Any]) -> dict[str, Any]:
    """The flat columns of one stored statement document (without `voided`)."""
    obj = data["object"]
    object_type, object_id = documents.object_reference(obj)
    definition = obj.get("definition", {}) if object_type == "Activity" else {}
    result = data.get("result", {})
    score = result.get("score", {})
    context = data.get("context", {})
    duration = result.get("duration")
    return {
        "actor_key": documents.agent_key(data["actor"]),
        "actor_name": data["actor"].get("name", ""),
        "verb_id": data["verb"]["id"],
        "verb_display": _first_text(data["verb"].get("display")),
        "object_type": object_type,
        "object_id": object_id,
        "object_name": _first_text(definition.get("name")) if definition else obj.get("name", ""),
        "activity_type": definition.get("type", ""),
        "result_success": result.get("success"),
        "result_completion": result.get("completion"),
        "result_score_scaled": score.get("scaled"),
        "result_score_raw": score.get("raw"),
        "result_duration": parse_duration(duration) if duration else None,
        "registration": context.get("registration"),
        "platform": context.get("platform", ""),
        "timestamp": parse_timestamp(data["timestamp"], "timestamp"),
        "stored": parse_timestamp(data["stored"], "stored"),
    }


def _flat_rows(ids: Iterable[Any]) -> list[StatementFlat]:
    rows = []
    statements = Statement.objects.filter(pk__in=list(ids)).values_list("pk", "data", "voided")
    for pk, data, voided in statements:
        rows.append(StatementFlat(statement_id=pk, voided=voided, **flatten_statement(data)))
    return rows


def flatten_ids(ids: Iterable[Any], *, overwrite: bool = False) -> int:
    """Flatten these statements; returns how many rows were written (new ones unless overwrite)."""
    ids = list(ids)
    if not ids:
        return 0
    with transaction.atomic():
        rows = _flat_rows(ids)
        if not rows:
            return 0
        if overwrite:
            StatementFlat.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["statement"],
                update_fields=[*_FLAT_FIELDS, "flattened_at"],
            )
            return len(rows)
        before = StatementFlat.objects.filter(statement_id__in=[r.statement_id for r in rows])
        already = before.count()
        StatementFlat.objects.bulk_create(rows, ignore_conflicts=True)
        return len(rows) - already


# --- incremental ------------------------------------------------------------------------


def sweep(*, batch_size: int | None = None, now: datetime | None = None) -> dict[str, int]:
    """Flatten whatever is stored and not yet flattened since the watermark; resync voiding."""
    batch_size = batch_size or settings.ANALYTICS_ETL_BATCH
    started = now or timezone.now()
    checkpoint, _ = EtlCheckpoint.objects.get_or_create(name=SWEEP_CHECKPOINT)
    since = checkpoint.position_stored
    flattened = 0
    while True:
        candidates = Statement.objects.filter(flat__isnull=True)
        if since is not None:
            candidates = candidates.filter(stored__gte=since)
        ids = list(candidates.order_by("stored", "id").values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        flattened += flatten_ids(ids)
        if len(ids) < batch_size:
            break
    # A voiding statement committed beside its target's insert can leave a flag unset;
    # re-derive the recent ones from the voiding statements themselves.
    recent_voids = Statement.objects.filter(voids_id__isnull=False)
    if since is not None:
        recent_voids = recent_voids.filter(stored__gte=since)
    targets = list(recent_voids.values_list("voids_id", flat=True))
    resynced = 0
    if targets:
        resynced = Statement.objects.filter(pk__in=targets, voided=False).update(voided=True)
        resynced += StatementFlat.objects.filter(statement_id__in=targets, voided=False).update(
            voided=True
        )
    margin = timedelta(seconds=settings.ANALYTICS_ETL_SWEEP_MARGIN_SECONDS)
    checkpoint.position_stored = started - margin
    checkpoint.save(update_fields=["position_stored", "updated_at"])
    return {"flattened": flattened, "voided_resynced": resynced}


# --- streaming --------------------------------------------------------------------------


def enqueue(ids: list[str]) -> None:
    """After commit: put the stored ids on the ETL stream (streaming mode, Redis present)."""
    if settings.ETL_MODE != "streaming" or not ids:
        return
    client = get_redis()
    if client is None:
        return
    try:
        client.xadd(
            settings.ANALYTICS_ETL_STREAM,
            {"ids": ",".join(ids)},
            maxlen=settings.ANALYTICS_ETL_STREAM_MAXLEN,
            approximate=True,
        )
    except Exception:  # the sweep flattens what the stream never heard of
        logger.warning("xapi etl stream unavailable", exc_info=True)


def _ensure_group(client) -> None:
    try:
        client.xgroup_create(
            settings.ANALYTICS_ETL_STREAM, settings.ANALYTICS_ETL_GROUP, id="0", mkstream=True
        )
    except Exception as exc:  # BUSYGROUP: it exists
        if "BUSYGROUP" not in str(exc):
            raise


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _entry_ids(entries) -> tuple[list[str], list[uuid.UUID]]:
    entry_ids, statement_ids = [], []
    for entry_id, fields in entries:
        entry_ids.append(entry_id)
        for raw in (fields or {}).get("ids", "").split(","):
            if raw:
                statement_ids.append(uuid.UUID(raw))
    return entry_ids, statement_ids


def consume(
    *,
    consumer: str | None = None,
    max_batches: int = 100,
    block_ms: int | None = None,
    flatten: Callable[[list[uuid.UUID]], int] = flatten_ids,
) -> dict[str, int]:
    """
    Read ETL stream entries as `consumer` in the consumer group, flatten, ack. Entries
    another consumer read and never acked for ANALYTICS_ETL_CLAIM_IDLE_SECONDS are claimed
    first. Acking after the flat rows commit makes delivery at least once, and the flat
    table's key makes a second flattening insert nothing.
    """
    client = get_redis()
    counts = {"entries": 0, "flattened": 0, "reclaimed": 0}
    if client is None:
        return counts
    consumer = consumer or consumer_name()
    stream, group = settings.ANALYTICS_ETL_STREAM, settings.ANALYTICS_ETL_GROUP
    _ensure_group(client)
    count = settings.ANALYTICS_ETL_BATCH_ENTRIES
    idle_ms = int(settings.ANALYTICS_ETL_CLAIM_IDLE_SECONDS * 1000)

    start = "0-0"
    while True:
        result = client.xautoclaim(stream, group, consumer, idle_ms, start_id=start, count=count)
        start, claimed = result[0], result[1]
        claimed = [(entry_id, fields) for entry_id, fields in claimed if fields is not None]
        if claimed:
            entry_ids, statement_ids = _entry_ids(claimed)
            counts["flattened"] += flatten(statement_ids)
            client.xack(stream, group, *entry_ids)
            counts["reclaimed"] += len(entry_ids)
        # Entries trimmed away from the stream come back without fields: ack them too.
        deleted = result[2] if len(result) > 2 else []
        if deleted:
            client.xack(stream, group, *deleted)
        if start in ("0-0", b"0-0"):
            break

    # Entries this consumer read and never acked (a pass that failed midway, e.g. on a lost
    # database connection) come first, instead of waiting to be reclaimed as a dead one's.
    for _ in range(max_batches):
        response = client.xreadgroup(group, consumer, {stream: "0"}, count=count)
        entries = response[0][1] if response else []
        if not entries:
            break
        entry_ids, statement_ids = _entry_ids(entries)
        counts["flattened"] += flatten(statement_ids)
        client.xack(stream, group, *entry_ids)
        counts["entries"] += len(entry_ids)
        if len(entries) < count:
            break

    for _ in range(max_batches):
        # BLOCK 0 would wait forever: 0/None means do not block.
        response = client.xreadgroup(
            group, consumer, {stream: ">"}, count=count, block=block_ms or None
        )
        if not response:
            break
        entries = response[0][1]
        if not entries:
            break
        entry_ids, statement_ids = _entry_ids(entries)
        counts["flattened"] += flatten(statement_ids)
        client.xack(stream, group, *entry_ids)
        counts["entries"] += len(entry_ids)
    return counts


def stream_state() -> dict[str, int | None]:
    client = get_redis()
    if client is None or settings.ETL_MODE != "streaming":
        return {}
    try:
        _ensure_group(client)
        length = client.xlen(settings.ANALYTICS_ETL_STREAM)
        pending = client.xpending(settings.ANALYTICS_ETL_STREAM, settings.ANALYTICS_ETL_GROUP)
        return {"length": length, "pending": pending.get("pending", 0)}
    except Exception:
        return {"length": None, "pending": None}


# --- backfill ---------------------------------------------------------------------------


def reflatten_range(
    *,
    since: datetime | None,
    until: datetime | None,
    checkpoint_name: str,
    batch_size: int,
    restart: bool = False,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Rewrite flat rows for statements stored in (since, until], resuming at the checkpoint."""
    checkpoint, _ = EtlCheckpoint.objects.get_or_create(name=checkpoint_name)
    if restart:
        checkpoint.position_stored = checkpoint.position_id = None
    base = Statement.objects.all()
    if since:
        base = base.filter(stored__gt=since)
    if until:
        base = base.filter(stored__lte=until)
    done = 0
    while True:
        page = base
        if checkpoint.position_stored is not None:
            from django.db.models import Q

            page = page.filter(
                Q(stored__gt=checkpoint.position_stored)
                | Q(stored=checkpoint.position_stored, id__gt=checkpoint.position_id)
            )
        rows = list(page.order_by("stored", "id").values_list("pk", "stored")[:batch_size])
        if not rows:
            break
        with transaction.atomic():
            flatten_ids([pk for pk, _ in rows], overwrite=True)
            checkpoint.position_id, checkpoint.position_stored = rows[-1]
            checkpoint.parameters = {
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
            }
            checkpoint.save()
        done += len(rows)
        if progress:
            progress(len(rows))
    return done
