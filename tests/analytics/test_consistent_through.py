"""
X-Experience-API-Consistent-Through never lies: a statement stored at or before a served
value never becomes visible afterwards, so `since=<served value>` misses nothing, with a
slow writer's transaction held open while the value is served (real threads, PostgreSQL).
"""

import threading
import time

import psycopg
import pytest
from django.db import connection, transaction
from django.utils.dateparse import parse_datetime

from analytics import services
from analytics.models import Statement
from tests.analytics.conftest import XapiClient
from tests.analytics.factories import StatementFactory, credential
from tests.concurrency import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)

WAIT_SECONDS = 60  # a guard against a hang, not a measurement


def _wait_for(condition, what):
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _raw_connection():
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
    )


def _writer_waits_for_the_table(monitor) -> bool:
    row = monitor.execute(
        "SELECT count(*) FROM pg_locks WHERE NOT granted "
        "AND relation = 'analytics_statement'::regclass"
    ).fetchone()
    return row[0] > 0


def _ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {s["id"] for s in response.json()["statements"]}


@pytest.fixture
def reader():
    cred, secret = credential(name="Reporting", rate_per_minute=0)
    return XapiClient(cred.key, secret)


@pytest.fixture
def writer_credential():
    return credential(name="LMS", rate_per_minute=0)[0]


@pytest.mark.parametrize(
    ("path", "batch_size"),
    [
        # the writer's transaction is held open after its statements went in
        ("transaction", 30),
        # an autocommit COPY (stamped, then waiting for the table) and a small INSERT
        ("copy", 50),
        ("insert", 3),
    ],
)
def test_since_the_served_value_returns_what_a_slow_writer_commits_later(
    reader, writer_credential, settings, path, batch_size
):
    settings.XAPI_COPY_MIN_BATCH = 20
    # given statements already stored, and a slow batch on its way
    early = services.statements_store(statements=StatementFactory.build_batch(5))
    slow_batch = StatementFactory.build_batch(batch_size)
    in_flight, release = threading.Event(), threading.Event()
    blocker = None
    if path != "transaction":
        # the slow writer's statement waits for this lock on the table
        blocker = _raw_connection()
        blocker.execute("LOCK TABLE analytics_statement IN SHARE MODE")

    def slow_writer():
        if path == "transaction":
            with transaction.atomic():
                ids = services.statements_store(statements=slow_batch, credential=writer_credential)
                in_flight.set()
                assert release.wait(WAIT_SECONDS)
            return ids
        return services.statements_store(statements=slow_batch, credential=writer_credential)

    def read_while_it_is_in_flight():
        if path == "transaction":
            assert in_flight.wait(WAIT_SECONDS)
        else:
            with _raw_connection() as monitor:
                _wait_for(lambda: _writer_waits_for_the_table(monitor), "the slow writer")
        # a fast writer commits meanwhile (the locked table would make it wait), then the
        # reader reads
        fast = []
        if path == "transaction":
            fast = services.statements_store(statements=StatementFactory.build_batch(2))
        response = reader.get({"limit": 500})
        release.set()
        if blocker is not None:
            blocker.commit()
        return fast, response

    # when the reader reads while the slow writer is in flight, then the writer commits
    try:
        (slow_ids, (fast_ids, first)), errors = run_in_threads(
            slow_writer, read_while_it_is_in_flight
        )
    finally:
        if blocker is not None:
            blocker.close()
    assert errors == [None, None]

    # then the first read did not see the slow batch...
    served = first["X-Experience-API-Consistent-Through"]
    seen_first = _ids(first)
    slow = {str(i) for i in slow_ids}
    assert not slow & seen_first
    assert {str(i) for i in [*early, *fast_ids]} <= seen_first
    # ...and resuming from the served value finds it, and everything else not yet seen
    resumed = _ids(reader.get({"since": served, "ascending": "true", "limit": 500}))
    assert slow <= resumed
    everything = {str(i) for i in Statement.objects.values_list("id", flat=True)}
    assert everything == seen_first | resumed
    # and no statement the first read missed was stored at or before the served value
    served_at = parse_datetime(served)
    missed = Statement.objects.filter(id__in=everything - seen_first)
    assert all(statement.stored > served_at for statement in missed)


def test_consistent_through_covers_what_was_committed_before_the_read(reader):
    # given a statement stored (nothing in flight)
    [statement_id] = services.statements_store(statements=[StatementFactory()])
    stored = Statement.objects.get(pk=statement_id).stored
    # when a client reads
    response = reader.get()
    # then the header is at or after it (a client pacing on it does not wait forever)
    assert parse_datetime(response["X-Experience-API-Consistent-Through"]) >= stored
    by_id = reader.get({"statementId": str(statement_id)})
    assert parse_datetime(by_id["X-Experience-API-Consistent-Through"]) >= stored


def test_an_open_ingest_transaction_holds_consistent_through_back_until_it_ends(
    reader, writer_credential
):
    # given a batch stored inside a transaction that stays open
    in_flight, release = threading.Event(), threading.Event()

    def held_open():
        with transaction.atomic():
            ids = services.statements_store(
                statements=StatementFactory.build_batch(3), credential=writer_credential
            )
            in_flight.set()
            assert release.wait(WAIT_SECONDS)
        return ids

    def read_twice():
        assert in_flight.wait(WAIT_SECONDS)
        during = reader.get()["X-Experience-API-Consistent-Through"]
        release.set()
        return during

    (ids, during), errors = run_in_threads(held_open, read_twice)
    assert errors == [None, None]
    stored = Statement.objects.filter(pk__in=ids).values_list("stored", flat=True)
    # then while it was open the header stayed before its statements' stored time
    assert parse_datetime(during) < min(stored)
    # and once it committed the header moves past them
    after = reader.get()["X-Experience-API-Consistent-Through"]
    assert parse_datetime(after) >= max(stored)


@pytest.mark.usefixtures("ingest_path")
@pytest.mark.parametrize("authored", [True, False])
def test_stored_comes_from_the_database_clock_and_the_document_says_the_same(authored):
    # given a batch with or without the author's timestamps
    batch = StatementFactory.build_batch(3)
    if not authored:
        for statement in batch:
            del statement["timestamp"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        (before,) = cursor.fetchone()
    # when
    ids = services.statements_store(statements=batch)
    # then every row's stored is the database's time of the write, in the column and the
    # document alike (to the millisecond the document shows)
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        (after,) = cursor.fetchone()
    for statement in Statement.objects.filter(pk__in=ids):
        assert before <= statement.stored <= after
        assert parse_datetime(statement.data["stored"]) == statement.stored.replace(
            microsecond=statement.stored.microsecond // 1000 * 1000
        )
        if authored:
            assert statement.data["timestamp"] == "2026-11-01T09:30:00.000Z"
        else:
            assert statement.data["timestamp"] == statement.data["stored"]
            assert statement.timestamp == statement.stored


def test_a_copy_that_fails_leaves_no_transaction_and_no_note_behind(settings, reader):
    # given a batch stored by COPY
    settings.XAPI_COPY_MIN_BATCH = 20
    batch = StatementFactory.build_batch(25)
    services.statements_store(statements=batch)
    # when the same batch comes again (the COPY fails on the first id, the transactional
    # path then accepts the identical repeats)
    ids = services.statements_store(statements=batch)
    # then the session is back in autocommit with nothing open
    assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert Statement.objects.count() == 25
    # and Consistent-Through is not held back by a note left over
    stored = max(Statement.objects.filter(pk__in=ids).values_list("stored", flat=True))
    assert parse_datetime(reader.get()["X-Experience-API-Consistent-Through"]) >= stored
