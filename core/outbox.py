"""
Transactional outbox for domain events.

`publish_event()` writes an `OutboxEvent` row inside the caller's transaction, so an event
exists exactly when the change that caused it committed. The publisher (a Celery task,
kicked after commit and swept by beat) pushes pending rows to the event stream in id
order and stamps them, then hands each event to the in-process handlers subscribed to
its topic. Delivery to the stream is at least once from our side and deduplicated by
event id on the Redis side, so the stream holds each event exactly once even when two
publishers race or one dies between pushing and stamping.

A handler run is owed until its ProcessedEvent row exists. Stamping an event with
handlers sets `handlers_due_at` (now + OUTBOX_HANDLER_GRACE_SECONDS); the sweep
(`redispatch_owed`, beat every minute) re-dispatches the runs still owed by then (a
Celery message lost with Redis, a dispatch that failed after the stamp), with a growing
interval between checks of one event, and clears `handlers_due_at` once none is owed.
Handlers run once per event (`dispatch_event`), so a second dispatch does nothing.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any, Protocol

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from core.models import OutboxEvent, ProcessedEvent
from core.redis import get_redis

logger = logging.getLogger(__name__)

EventHandler = Callable[[OutboxEvent], None]
_subscriptions: list[tuple[str, str]] = []  # (topic pattern, handler dotted path)


# --- writing ----------------------------------------------------------------------------


def publish_event(
    topic: str, payload: dict[str, Any], *, event_id: uuid.UUID | None = None
) -> OutboxEvent:
    """Record `topic` with `payload` in the current transaction; it is published after commit."""
    event = OutboxEvent.objects.create(
        topic=topic, payload=payload, event_id=event_id or uuid.uuid4()
    )
    _kick_publisher_on_commit()
    return event


def _kick_publisher_on_commit() -> None:
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(
        callback is _kick_publisher for _sids, callback, _robust in connection.run_on_commit
    ):
        return
    transaction.on_commit(_kick_publisher, robust=True)


_KICK_KEY = "outbox:publish-queued"


def _set_kick_flag() -> bool:
    """Set the "a publisher run is queued" flag; False if it was already set.

    Straight to the process's Redis client where there is one: Django's cache builds a new
    redis-py client object on every call, which costs more than the SET itself, and this
    runs after every commit that published an event.
    """
    client = get_redis()
    if client is None:
        from django.core.cache import cache

        return cache.add(_KICK_KEY, 1, timeout=60)
    return bool(client.set(_KICK_KEY, 1, nx=True, ex=60))


def _clear_kick_flag() -> None:
    client = get_redis()
    if client is None:
        from django.core.cache import cache

        cache.delete(_KICK_KEY)
    else:
        client.delete(_KICK_KEY)


def _kick_publisher() -> None:
    """Enqueue one publisher run unless one is already queued and not yet started.

    The publisher clears the flag when it starts, then publishes everything pending, so an
    event committed while a run waits in the queue is picked up by that run; under load this
    saves a broker round trip per commit.
    """
    from core.tasks import outbox_publish_task

    # Runs after the commit: a failure here must not turn the caller's committed change
    # into an error. Beat's publisher run (every 5 s) picks the event up instead.
    try:
        if not _set_kick_flag():
            return
    except Exception:
        logger.warning("outbox kick skipped: Redis unavailable", exc_info=True)
        return
    try:
        outbox_publish_task.delay()
    except Exception:
        logger.warning("outbox kick failed: left to the scheduled publisher", exc_info=True)
        with contextlib.suppress(Exception):  # the flag expires on its own within a minute
            _clear_kick_flag()


def publisher_started() -> None:
    _clear_kick_flag()


# --- subscribing ------------------------------------------------------------------------


def subscribe(pattern: str) -> Callable[[EventHandler], EventHandler]:
    """Register the decorated function for topics matching `pattern` (fnmatch: 'order.*').

    Handlers run in a Celery task after the event is published, at least once; wrap their
    work with `handle_once` (the dispatcher does) so a redelivery does nothing.
    """

    def decorator(func: EventHandler) -> EventHandler:
        path = f"{func.__module__}.{func.__qualname__}"
        if (pattern, path) not in _subscriptions:
            _subscriptions.append((pattern, path))
        return func

    return decorator


def handlers_for(topic: str) -> list[str]:
    return [path for pattern, path in _subscriptions if fnmatch.fnmatchcase(topic, pattern)]


def _resolve(path: str) -> EventHandler:
    module_name, _, attr = path.rpartition(".")
    return getattr(import_module(module_name), attr)


def dispatch_event(*, event_pk: int, handler: str) -> bool:
    """Run one handler on one event, once: the ProcessedEvent row commits with its work."""
    event = OutboxEvent.objects.get(pk=event_pk)
    func = _resolve(handler)
    with transaction.atomic():
        try:
            with transaction.atomic():
                ProcessedEvent.objects.create(handler=handler, event_id=event.event_id)
        except IntegrityError:
            logger.info(
                "event already handled", extra={"event_id": str(event.event_id), "handler": handler}
            )
            return False
        func(event)
    return True


# --- publishing -------------------------------------------------------------------------


class EventSink(Protocol):
    def publish(self, events: list[OutboxEvent]) -> int: ...


# Sets the dedupe key and appends in one atomic script: an event id enters the stream once.
_PUBLISH_SCRIPT = """
local stream, maxlen, ttl = KEYS[1], ARGV[1], ARGV[2]
local added = 0
for i = 3, #ARGV, 4 do
  if redis.call('SET', stream .. ':seen:' .. ARGV[i], '1', 'NX', 'EX', ttl) then
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*',
               'event_id', ARGV[i], 'topic', ARGV[i + 1], 'payload', ARGV[i + 2],
               'outbox_id', ARGV[i + 3])
    added = added + 1
  end
end
return added
"""


@dataclass
class RedisStreamSink:
    stream: str
    maxlen: int
    dedupe_ttl_seconds: int = 7 * 24 * 3600

    def publish(self, events: list[OutboxEvent]) -> int:
        client = get_redis()
        args: list[Any] = [self.maxlen, self.dedupe_ttl_seconds]
        for event in events:
            args += [
                str(event.event_id),
                event.topic,
                json.dumps(event.payload, cls=DjangoJSONEncoder),
                event.pk,
            ]
        return int(client.eval(_PUBLISH_SCRIPT, 1, self.stream, *args))


class LocalSink:
    """Embedded mode has no stream: events reach only the in-process handlers."""

    def publish(self, events: list[OutboxEvent]) -> int:
        return len(events)


def default_sink() -> EventSink:
    if get_redis() is not None:
        return RedisStreamSink(stream=settings.OUTBOX_STREAM, maxlen=settings.OUTBOX_STREAM_MAXLEN)
    return LocalSink()


def publish_pending(*, batch_size: int | None = None, sink: EventSink | None = None) -> int:
    """Push every pending event to the sink in id order; returns how many this call stamped."""
    batch_size = batch_size or settings.OUTBOX_BATCH_SIZE
    sink = sink or default_sink()
    stamped = 0
    while True:
        try:
            with transaction.atomic():
                # Row locks, not SKIP LOCKED: a second publisher waits, then finds the rows
                # stamped and skips them, so order is kept and no event is pushed twice.
                batch = list(
                    OutboxEvent.objects.select_for_update()
                    .filter(published_at__isnull=True)
                    .order_by("id")[:batch_size]
                )
                if not batch:
                    return stamped
                sink.publish(batch)
                now = timezone.now()
                with_handlers = [e.pk for e in batch if handlers_for(e.topic)]
                OutboxEvent.objects.filter(pk__in=[e.pk for e in batch]).update(
                    published_at=now,
                    attempts=F("attempts") + 1,
                    last_error="",
                    handlers_due_at=Case(
                        When(pk__in=with_handlers, then=Value(now + _grace())), default=None
                    ),
                )
                transaction.on_commit(lambda batch=batch: _dispatch_handlers(batch))
        except Exception as exc:
            _record_failure(batch_size, exc)
            raise
        stamped += len(batch)
        if len(batch) < batch_size:
            return stamped


def _record_failure(batch_size: int, exc: Exception) -> None:
    pending = OutboxEvent.objects.filter(published_at__isnull=True).order_by("id")[:batch_size]
    OutboxEvent.objects.filter(pk__in=pending.values("pk")).update(
        attempts=F("attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000]
    )


def _dispatch_handlers(events: Iterable[OutboxEvent]) -> None:
    _dispatch_runs([(e.pk, handler) for e in events for handler in handlers_for(e.topic)])


def _dispatch_runs(runs: list[tuple[int, str]]) -> int:
    """Queue one dispatch task per (event pk, handler); returns how many were queued.

    After a commit, so it never raises: a run that cannot be queued (broker down) stays
    owed and the sweep queues it later.
    """
    from core.tasks import outbox_dispatch_task

    queued = 0
    for event_pk, handler in runs:
        try:
            outbox_dispatch_task.delay(event_pk, handler)
        except Exception:
            logger.warning(
                "outbox handler run not queued: left to the sweep",
                exc_info=True,
                extra={"outbox_id": event_pk, "handler": handler},
            )
            break  # the broker is down: the rest would fail the same way
        queued += 1
    return queued


# --- sweeping owed handler runs ---------------------------------------------------------


def _grace() -> timedelta:
    return timedelta(seconds=settings.OUTBOX_HANDLER_GRACE_SECONDS)


def _next_check(redispatches: int) -> timedelta:
    """Grace, then twice as long after each re-dispatch, at most an hour apart."""
    seconds = settings.OUTBOX_HANDLER_GRACE_SECONDS * (2 ** min(redispatches, 16))
    return timedelta(seconds=min(seconds, 3600))


@dataclass
class SweepResult:
    checked: int = 0
    settled: int = 0
    redispatched: int = 0

    def as_counts(self) -> dict[str, int]:
        return {
            "checked": self.checked,
            "settled": self.settled,
            "redispatched": self.redispatched,
        }


def owed_runs(events: list[OutboxEvent]) -> dict[int, list[str]]:
    """For each event (by pk), its subscribed handlers that have no ProcessedEvent yet.

    One query, shaped to the (handler, event_id) unique index: an OR of
    `handler = h AND event_id IN (...)` per handler.
    """
    wanted: dict[str, list[uuid.UUID]] = {}
    for event in events:
        for handler in handlers_for(event.topic):
            wanted.setdefault(handler, []).append(event.event_id)
    done: set[tuple[str, uuid.UUID]] = set()
    if wanted:
        condition = Q()
        for handler, event_ids in wanted.items():
            condition |= Q(handler=handler, event_id__in=event_ids)
        done = set(ProcessedEvent.objects.filter(condition).values_list("handler", "event_id"))
    return {
        event.pk: [h for h in handlers_for(event.topic) if (h, event.event_id) not in done]
        for event in events
    }


def redispatch_owed(*, now: datetime | None = None, batch_size: int | None = None) -> SweepResult:
    """Re-dispatch the handler runs owed by events whose check is due; settle the rest.

    Bounded: at most `batch_size` events per call (OUTBOX_SWEEP_BATCH), read through the
    partial index on `handlers_due_at`. SKIP LOCKED lets two sweeps share the work.
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.OUTBOX_SWEEP_BATCH
    result = SweepResult()
    runs: list[tuple[int, str]] = []
    with transaction.atomic():
        events = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(handlers_due_at__lte=now)
            .order_by("handlers_due_at")
            .only("pk", "event_id", "topic", "redispatches")[:batch_size]
        )
        result.checked = len(events)
        if not events:
            return result
        owed = owed_runs(events)
        settled = [event.pk for event in events if not owed[event.pk]]
        if settled:
            OutboxEvent.objects.filter(pk__in=settled).update(handlers_due_at=None)
        retried = []
        for event in events:
            if owed[event.pk]:
                event.redispatches += 1
                event.handlers_due_at = now + _next_check(event.redispatches)
                retried.append(event)
                runs += [(event.pk, handler) for handler in owed[event.pk]]
        if retried:
            OutboxEvent.objects.bulk_update(retried, ["redispatches", "handlers_due_at"])
        result.settled = len(settled)
        transaction.on_commit(lambda: _dispatch_runs(runs))
    result.redispatched = len(runs)
    if runs:
        logger.warning(
            "outbox handler runs re-dispatched",
            extra={"runs": len(runs), "events": len(events) - len(settled)},
        )
    return result
