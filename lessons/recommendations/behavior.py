"""
BehaviorProcessor: batches of behaviour events into LearnerInteraction, and the
co-occurrence matrix collaborative filtering reads.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Iterable
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from learners.models import Learner
from lessons.models import InteractionType, LearnerInteraction, Microlesson, Topic
from lessons.recommendations.engine import interaction_weight, invalidate_learners
from lessons.recommendations.similarity import (
    Cooccurrence,
    catalogue,
    cooccurrence_compute,
    cooccurrence_write,
    current_generation,
    snapshot_build,
    snapshot_publish,
)
from lessons.recommendations.store import Store, store_for

logger = logging.getLogger(__name__)

_COLUMNS = ("learner_id", "topic_id", "lesson_id", "type", "weight", "metadata", "created_at")


_FOREIGN_KEYS: list[str] = []


@contextmanager
def _foreign_keys_immediate():
    """Check LearnerInteraction's (deferred) foreign keys at each statement in the block."""
    from psycopg import sql

    with connection.cursor() as cursor:
        if not _FOREIGN_KEYS:
            cursor.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass "
                "AND contype = 'f' AND condeferrable",
                [LearnerInteraction._meta.db_table],
            )
            _FOREIGN_KEYS.extend(row[0] for row in cursor.fetchall())
        names = sql.SQL(", ").join(sql.Identifier(name) for name in _FOREIGN_KEYS)
        if not _FOREIGN_KEYS:
            yield
            return
        cursor.execute(sql.SQL("SET CONSTRAINTS {} IMMEDIATE").format(names))
        try:
            yield
        except IntegrityError:
            # The transaction is aborted until the savepoint around this rolls back, and
            # that rollback also restores the constraints' timing.
            raise
        cursor.execute(sql.SQL("SET CONSTRAINTS {} DEFERRED").format(names))


class BehaviorProcessor:
    """process_events(events) → how many were recorded; build_cooccurrence_matrix(...)."""

    def __init__(self, *, cache: Any = None):
        self.store: Store = store_for(cache)
        self._topics: dict[str, int] | None = None

    def process_events(self, events: Iterable[dict[str, Any]]) -> int:
        """Record a batch of events in one transaction; malformed ones are skipped (logged).

        An event: {"learner_id", "topic" (slug) or "topic_id", "type" (delivered, started,
        completed, saved), optional "lesson_id", "metadata" (object), "created_at"}.
        Returns the number recorded. The learners' cached lists are invalidated.
        """
        weights = {t: interaction_weight(t) for t in InteractionType.values}
        topics = self._topic_ids()
        topic_values = set(topics.values())
        now = timezone.now()
        rows: list[tuple] = []
        skipped = 0
        for event in events:
            row = self._row(event, weights=weights, topics=topics, ids=topic_values, now=now)
            if row is None:
                skipped += 1
            else:
                rows.append(row)
        if not rows:
            return 0
        with transaction.atomic():
            if connection.vendor == "postgresql":
                try:
                    # Optimistic: the foreign keys check every row anyway, so a batch with only
                    # known learners and lessons (the usual case) costs no lookup of its own.
                    # They are checked at commit by default; immediately here, so a bad row
                    # fails this savepoint and not the whole transaction later.
                    with transaction.atomic(), _foreign_keys_immediate():
                        self._insert(rows)
                except IntegrityError:
                    before = len(rows)
                    rows = self._known_only(rows)
                    skipped += before - len(rows)
                    self._insert(rows)
            else:
                before = len(rows)
                rows = self._known_only(rows)
                skipped += before - len(rows)
                self._insert(rows)
            # The epoch bump alone retires the durable copies (each row records its epoch).
            invalidate_learners(
                learner_ids=sorted({row[0] for row in rows}),
                store=self.store,
                delete_durable=False,
            )
        if skipped:
            logger.warning("behaviour events skipped", extra={"skipped": skipped})
        return len(rows)

    def build_cooccurrence_matrix(self, *, time_window_hours: int | None = None) -> dict:
        """Rebuild co-occurrence over the window, write TopicSimilarity, publish the snapshot.

        Returns {"topics": [slugs], "counts": [[...]], "cosine": [[...]], "learners": n,
        "since": iso, "generation": g}.
        """
        hours = time_window_hours or settings.RECOMMENDATIONS_WINDOW_HOURS
        topics = catalogue()
        cooccurrence: Cooccurrence = cooccurrence_compute(
            topic_ids=[t.id for t in topics], time_window_hours=hours
        )
        with transaction.atomic():
            written = cooccurrence_write(cooccurrence)
        generation = current_generation()
        snapshot = snapshot_build(
            generation=generation, time_window_hours=hours, cooccurrence=cooccurrence
        )
        snapshot_publish(store=self.store, snapshot=snapshot)
        return {
            "topics": [t.slug for t in topics],
            "counts": cooccurrence.counts.tolist(),
            "cosine": cooccurrence.cosine().round(6).tolist(),
            "learners": cooccurrence.learners,
            "since": cooccurrence.since.isoformat() if cooccurrence.since else None,
            "rows": written,
            "generation": generation,
        }

    # --- internals ------------------------------------------------------------------------

    @staticmethod
    def _known_only(rows: list[tuple]) -> list[tuple]:
        learner_ids = {row[0] for row in rows}
        lesson_ids = {row[2] for row in rows if row[2] is not None}
        known = set(Learner.objects.filter(pk__in=learner_ids).values_list("pk", flat=True))
        known_lessons = (
            set(Microlesson.objects.filter(pk__in=lesson_ids).values_list("pk", flat=True))
            if lesson_ids
            else set()
        )
        return [r for r in rows if r[0] in known and (r[2] is None or r[2] in known_lessons)]

    def _topic_ids(self) -> dict[str, int]:
        if self._topics is None:
            self._topics = dict(Topic.objects.values_list("slug", "id"))
        return self._topics

    @staticmethod
    def _row(event, *, weights, topics, ids, now) -> tuple | None:
        if not isinstance(event, dict):
            return None
        kind = event.get("type")
        if kind not in weights:
            return None
        learner_id = event.get("learner_id")
        if isinstance(learner_id, bool) or not isinstance(learner_id, int) or learner_id <= 0:
            return None
        topic_id = event.get("topic_id")
        if topic_id is None:
            topic_id = topics.get(event.get("topic"))
        if topic_id not in ids:
            return None
        lesson_id = event.get("lesson_id")
        if lesson_id is not None and (
            isinstance(lesson_id, bool) or not isinstance(lesson_id, int)
        ):
            return None
        metadata = event.get("metadata") or {}
        if not isinstance(metadata, dict):
            return None
        created_at = event.get("created_at") or now
        if isinstance(created_at, str):
            created_at = parse_datetime(created_at)
        if not isinstance(created_at, datetime.datetime):
            return None
        if timezone.is_naive(created_at):
            return None
        return (learner_id, topic_id, lesson_id, kind, weights[kind], metadata, created_at)

    @staticmethod
    def _insert(rows: list[tuple]) -> None:
        if connection.vendor != "postgresql":
            LearnerInteraction.objects.bulk_create(
                [LearnerInteraction(**dict(zip(_COLUMNS, row, strict=True))) for row in rows],
                batch_size=1000,
            )
            return
        # COPY: the cheapest way into PostgreSQL for a batch (see FIELD-NOTES), inside the
        # caller's transaction, so a failing batch leaves nothing behind.
        table = LearnerInteraction._meta.db_table
        sql = f"COPY {table} ({', '.join(_COLUMNS)}) FROM STDIN"
        dumps = json.dumps
        with (
            connection.cursor() as cursor,
            connection.wrap_database_errors,
            cursor.copy(sql) as copy,
        ):
            for learner_id, topic_id, lesson_id, kind, weight, metadata, created_at in rows:
                copy.write_row(
                    (
                        learner_id,
                        topic_id,
                        lesson_id,
                        kind,
                        weight,
                        dumps(metadata) if metadata else "{}",
                        created_at,
                    )
                )
