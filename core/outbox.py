"""
Transactional outbox for domain events.

`publish_event()` writes an `OutboxEvent` row inside the caller's transaction, so an event
exists exactly when the change that caused it committed. The publisher (a Celery task,
kicked after commit and swept by beat) pushes pending rows to the event stream in id
order and stamps them, then hands each event to the in-process handlers subscribed to
its topic. Delivery to the stream is at least once from our side and deduplicated by
event id on the Redis side, so the stream holds each event exactly once even when two
publishers race or one dies between pushing and stamping.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Protocol

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import F
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

    if not _set_kick_flag():
        return
    try:
        outbox_publish_task.delay()
    except Exception:
        _clear_kick_flag()
        raise


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
                OutboxEvent.objects.filter(pk__in=[e.pk for e in batch]).update(
                    published_at=timezone.now(), attempts=F("attempts") + 1, last_error=""
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
    from core.tasks import outbox_dispatch_task

    for event in events:
        for handler in handlers_for(event.topic):
            outbox_dispatch_task.delay(event.pk, handler)
