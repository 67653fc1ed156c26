import json
import threading

import pytest
from django.db import connection, transaction

from core import outbox
from core.models import OutboxEvent, ProcessedEvent
from core.outbox import RedisStreamSink, publish_event, publish_pending

STREAM = "frontline:events"


def _stream_events(redis_client) -> list[dict]:
    return [fields for _id, fields in redis_client.xrange(STREAM)]


@pytest.mark.django_db(transaction=True)
def test_committed_event_is_published_to_the_stream(redis_client, tasks_queued):
    # given
    with transaction.atomic():
        event = publish_event("gift_card.created", {"gift_card_id": 7, "amount": "25.00"})
    # when
    stamped = publish_pending()
    # then
    assert stamped == 1
    [entry] = _stream_events(redis_client)
    assert entry["event_id"] == str(event.event_id)
    assert entry["topic"] == "gift_card.created"
    assert json.loads(entry["payload"]) == {"gift_card_id": 7, "amount": "25.00"}
    event.refresh_from_db()
    assert event.published_at is not None
    assert event.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_rolled_back_event_is_never_published(redis_client, tasks_queued):
    # given
    with pytest.raises(RuntimeError), transaction.atomic():
        publish_event("gift_card.created", {"gift_card_id": 1})
        raise RuntimeError("the change failed")
    # when
    stamped = publish_pending()
    # then
    assert stamped == 0
    assert OutboxEvent.objects.count() == 0
    assert redis_client.exists(STREAM) == 0


@pytest.mark.django_db(transaction=True)
def test_commit_kicks_the_publisher_once_per_transaction(
    redis_client, django_capture_on_commit_callbacks
):
    # given / when
    with transaction.atomic():
        publish_event("lesson.sent", {"n": 1})
        publish_event("lesson.sent", {"n": 2})
        kicks = [cb for _s, cb, _r in connection.run_on_commit if cb is outbox._kick_publisher]
    # then: one kick for the two events, and (eager Celery) both are on the stream
    assert len(kicks) == 1
    assert [json.loads(e["payload"])["n"] for e in _stream_events(redis_client)] == [1, 2]
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_events_are_published_in_commit_order_of_ids(redis_client, tasks_queued):
    for n in range(30):
        with transaction.atomic():
            publish_event("lesson.sent", {"n": n})
    publish_pending(batch_size=7)
    assert [json.loads(e["payload"])["n"] for e in _stream_events(redis_client)] == list(range(30))


@pytest.mark.django_db(transaction=True)
def test_two_publishers_at_once_push_each_event_exactly_once(redis_client):
    # given
    OutboxEvent.objects.bulk_create(
        OutboxEvent(topic="lesson.sent", payload={"n": n}) for n in range(400)
    )
    barrier = threading.Barrier(2)
    results, errors = [], []

    def publisher():
        try:
            barrier.wait()
            results.append(publish_pending(batch_size=25))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=publisher) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # then
    assert errors == []
    assert sum(results) == 400
    entries = _stream_events(redis_client)
    ids = [e["event_id"] for e in entries]
    assert len(ids) == 400
    assert len(set(ids)) == 400
    assert [json.loads(e["payload"])["n"] for e in entries] == list(range(400))


@pytest.mark.django_db(transaction=True)
def test_publisher_that_died_after_pushing_does_not_push_again(redis_client, tasks_queued):
    # given: a publisher pushed the batch, then died before stamping the rows
    with transaction.atomic():
        for n in range(5):
            publish_event("lesson.sent", {"n": n})
    sink = RedisStreamSink(stream=STREAM, maxlen=1000)
    assert sink.publish(list(OutboxEvent.objects.order_by("id"))) == 5
    # when: the next publisher finds them still pending
    stamped = publish_pending(sink=sink)
    # then: stamped, but the stream still holds each event once
    assert stamped == 5
    assert len(_stream_events(redis_client)) == 5


@pytest.mark.django_db(transaction=True)
def test_sink_failure_keeps_events_pending_with_the_error(tasks_queued):
    class BrokenSink:
        def publish(self, events):
            raise ConnectionError("stream unreachable")

    with transaction.atomic():
        publish_event("lesson.sent", {"n": 1})
    with pytest.raises(ConnectionError):
        publish_pending(sink=BrokenSink())
    event = OutboxEvent.objects.get()
    assert event.published_at is None
    assert event.attempts == 1
    assert "stream unreachable" in event.last_error


received: list[str] = []


@outbox.subscribe("test.*")
def _record_test_event(event):
    received.append(event.payload["tag"])


@pytest.mark.django_db(transaction=True)
def test_subscribed_handler_runs_once_per_event_even_when_redelivered():
    # given
    received.clear()
    with transaction.atomic():
        event = publish_event("test.happened", {"tag": "first"})
    handler = f"{__name__}._record_test_event"
    assert handler in outbox.handlers_for("test.happened")
    assert outbox.handlers_for("other.happened") == []
    # when: the publisher dispatches (eager), then a redelivery of the same event arrives
    publish_pending()
    again = outbox.dispatch_event(event_pk=event.pk, handler=handler)
    # then
    assert received == ["first"]
    assert again is False
    assert ProcessedEvent.objects.filter(handler=handler, event_id=event.event_id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_handler_failure_rolls_back_its_processed_marker(tasks_queued):
    calls = []

    def failing(event):
        calls.append(event.pk)
        raise ValueError("boom")

    with transaction.atomic():
        event = publish_event("test.failing", {"tag": "x"})
    module = __import__(__name__, fromlist=["_"])
    module._failing_handler = failing
    with pytest.raises(ValueError):
        outbox.dispatch_event(event_pk=event.pk, handler=f"{__name__}._failing_handler")
    assert not ProcessedEvent.objects.exists()
    assert calls == [event.pk]


@pytest.mark.django_db(transaction=True)
def test_commits_while_a_publisher_run_is_queued_enqueue_no_second_run(redis_client, tasks_queued):
    # given: a commit queued a publisher run that has not started (a topic without
    # subscribers, so the only messages on the queue are publisher runs)
    with transaction.atomic():
        publish_event("unsubscribed.topic", {"n": 1})
    queued = redis_client.llen("default")
    # when: more commits arrive before it starts
    for n in range(2, 5):
        with transaction.atomic():
            publish_event("unsubscribed.topic", {"n": n})
    # then: still one run queued, and that run publishes all four
    assert queued == 1
    assert redis_client.llen("default") == 1
    from core.tasks import outbox_publish_task

    assert outbox_publish_task.apply().result == 4
    # and once it has started, the next commit queues a new run
    with transaction.atomic():
        publish_event("unsubscribed.topic", {"n": 5})
    assert redis_client.llen("default") == 2
