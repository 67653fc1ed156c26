"""ETL into the flattened table: incremental sweep, streaming consumer group, backfill."""

import multiprocessing
import os
import signal
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from analytics import etl, services
from analytics.models import EtlCheckpoint, Statement, StatementFlat
from analytics.tasks import etl_consume_task, etl_sweep_task
from core.models import JobRun
from tests.analytics.factories import StatementFactory

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def store(statements, **kwargs):
    return services.statements_store(statements=statements, **kwargs)


# --- flattening -------------------------------------------------------------------------


def test_flatten_statement_extracts_the_query_columns():
    statement = StatementFactory(
        result={
            "success": True,
            "completion": False,
            "score": {"scaled": 0.5, "raw": 5, "min": 0, "max": 10},
            "duration": "PT1M30S",
        },
        context={"registration": "9b3f6f5a-4e8c-4a77-8d0c-3c8f5e2b1a10", "platform": "LMS"},
        stored="2026-11-01T10:00:00.000Z",
    )
    flat = etl.flatten_statement(statement)
    assert flat["actor_key"] == f"mbox:{statement['actor']['mbox']}"
    assert flat["verb_id"] == statement["verb"]["id"]
    assert flat["verb_display"] == "completed"
    assert (flat["object_type"], flat["object_id"]) == ("Activity", statement["object"]["id"])
    assert flat["activity_type"] == "http://adlnet.gov/expapi/activities/lesson"
    assert flat["result_success"] is True and flat["result_completion"] is False
    assert flat["result_score_scaled"] == 0.5 and flat["result_score_raw"] == 5
    assert flat["result_duration"] == timedelta(minutes=1, seconds=30)
    assert flat["registration"] == "9b3f6f5a-4e8c-4a77-8d0c-3c8f5e2b1a10"
    assert flat["platform"] == "LMS"


@pytest.mark.django_db
def test_a_statement_cannot_be_flattened_twice():
    ids = store(StatementFactory.build_batch(3))
    assert etl.flatten_ids(ids) == 3
    assert etl.flatten_ids(ids) == 0
    assert StatementFlat.objects.count() == 3


# --- incremental ------------------------------------------------------------------------


@pytest.mark.django_db
def test_sweep_flattens_what_is_missing_and_records_a_job_run():
    # given statements, one already flattened (say, by the stream)
    ids = store(StatementFactory.build_batch(5))
    etl.flatten_ids(ids[:1])
    # when the beat job runs
    etl_sweep_task.delay()
    # then every statement has exactly one flat row and the run is logged
    assert StatementFlat.objects.count() == 5
    run = JobRun.objects.get(name="analytics.etl.sweep")
    assert run.status == JobRun.Status.SUCCEEDED and run.counts["flattened"] == 4
    # and a second sweep finds nothing to do
    assert etl.sweep()["flattened"] == 0
    assert StatementFlat.objects.count() == 5


@pytest.mark.django_db
def test_sweep_watermark_still_catches_statements_stored_just_before_it(settings):
    settings.ANALYTICS_ETL_SWEEP_MARGIN_SECONDS = 300
    etl.sweep()
    # a statement whose transaction began before the last sweep and committed after it
    [late] = store([StatementFactory()])
    Statement.objects.filter(pk=late).update(stored=timezone.now() - timedelta(seconds=60))
    etl.sweep()
    assert StatementFlat.objects.filter(statement_id=late).exists()
    assert EtlCheckpoint.objects.get(name=etl.SWEEP_CHECKPOINT).position_stored is not None


@pytest.mark.django_db
def test_voiding_updates_the_flattened_row():
    [target] = store([StatementFactory()])
    etl.sweep()
    store(
        [
            StatementFactory(
                verb={"id": VOIDED}, object={"objectType": "StatementRef", "id": str(target)}
            )
        ]
    )
    assert StatementFlat.objects.get(statement_id=target).voided is True


@pytest.mark.django_db
def test_sweep_resyncs_a_voided_flag_missed_by_a_race():
    [target] = store([StatementFactory()])
    store(
        [
            StatementFactory(
                verb={"id": VOIDED}, object={"objectType": "StatementRef", "id": str(target)}
            )
        ]
    )
    # simulate the race: the target's flag was never set
    Statement.objects.filter(pk=target).update(voided=False)
    result = etl.sweep()
    assert result["voided_resynced"] >= 1
    assert Statement.objects.get(pk=target).voided
    assert StatementFlat.objects.get(statement_id=target).voided


# --- streaming --------------------------------------------------------------------------


@pytest.fixture
def streaming(settings, redis_client):
    settings.ETL_MODE = "streaming"
    return redis_client


@pytest.mark.django_db
def test_streaming_puts_ids_on_the_stream_after_commit_and_the_consumer_flattens(
    streaming, settings, django_capture_on_commit_callbacks
):
    # given a stored batch (one stream entry per batch, written after commit)
    with django_capture_on_commit_callbacks(execute=True):
        ids = store(StatementFactory.build_batch(4))
    assert streaming.xlen(settings.ANALYTICS_ETL_STREAM) == 1
    # when the worker task consumes
    counts = etl_consume_task.delay().result
    # then everything is flattened and acked
    assert counts["flattened"] == 4
    assert set(StatementFlat.objects.values_list("statement_id", flat=True)) == set(ids)
    pending = streaming.xpending(settings.ANALYTICS_ETL_STREAM, settings.ANALYTICS_ETL_GROUP)
    assert pending["pending"] == 0


@pytest.mark.django_db
def test_incremental_mode_writes_nothing_to_the_stream(
    settings, redis_client, django_capture_on_commit_callbacks
):
    settings.ETL_MODE = "incremental"
    with django_capture_on_commit_callbacks(execute=True):
        store([StatementFactory()])
    assert redis_client.exists(settings.ANALYTICS_ETL_STREAM) == 0


@pytest.mark.django_db
def test_the_sweep_catches_what_the_stream_missed(streaming, settings):
    # given statements whose stream entries never happened (no on_commit ran: Redis down)
    ids = store(StatementFactory.build_batch(3))
    assert streaming.exists(settings.ANALYTICS_ETL_STREAM) == 0
    # when
    etl.sweep()
    # then
    assert StatementFlat.objects.filter(statement_id__in=ids).count() == 3


def _doomed_consumer() -> None:
    """Reads a batch as 'doomed', flattens half of it, then dies by SIGKILL before acking."""

    def half_then_die(statement_ids):
        etl.flatten_ids(statement_ids[: len(statement_ids) // 2])
        os.kill(os.getpid(), signal.SIGKILL)

    etl.consume(consumer="doomed", flatten=half_then_die)


@pytest.mark.django_db(transaction=True)
def test_a_consumer_killed_mid_batch_leaves_entries_that_are_reclaimed_without_doubles(
    streaming, settings
):
    # given 3 committed batches of 10: 3 stream entries, written after each commit
    settings.ANALYTICS_ETL_BATCH_ENTRIES = 50
    all_ids = []
    for _ in range(3):
        all_ids += store(StatementFactory.build_batch(10))
    assert streaming.xlen(settings.ANALYTICS_ETL_STREAM) == 3
    # when a consumer process reads them all, flattens half and is killed
    connections.close_all()
    process = multiprocessing.get_context("fork").Process(target=_doomed_consumer)
    process.start()
    process.join(60)
    assert process.exitcode == -signal.SIGKILL
    half = StatementFlat.objects.count()
    assert 0 < half < 30
    stream, group = settings.ANALYTICS_ETL_STREAM, settings.ANALYTICS_ETL_GROUP
    assert streaming.xpending(stream, group)["pending"] == 3
    # and a live consumer runs once the dead one's entries are idle long enough
    settings.ANALYTICS_ETL_CLAIM_IDLE_SECONDS = 0
    counts = etl.consume(consumer="survivor")
    # then the entries were reclaimed, everything is flattened once, nothing is pending
    assert counts["reclaimed"] == 3
    assert StatementFlat.objects.count() == 30
    assert set(StatementFlat.objects.values_list("statement_id", flat=True)) == set(all_ids)
    assert streaming.xpending(stream, group)["pending"] == 0


@pytest.mark.django_db
def test_entries_of_a_live_consumer_are_not_stolen_before_the_idle_time(streaming, settings):
    settings.ANALYTICS_ETL_CLAIM_IDLE_SECONDS = 3600
    ids = store(StatementFactory.build_batch(2))
    etl.enqueue([str(i) for i in ids])
    etl._ensure_group(streaming)
    streaming.xreadgroup(settings.ANALYTICS_ETL_GROUP, "busy", {settings.ANALYTICS_ETL_STREAM: ">"})
    counts = etl.consume(consumer="other")
    assert counts == {"entries": 0, "flattened": 0, "reclaimed": 0}
    assert StatementFlat.objects.count() == 0


# --- backfill ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_backfill_reflattens_a_range_and_resumes_from_its_checkpoint():
    # given statements on three days, flattened, then the flat table damaged
    ids = store(StatementFactory.build_batch(6))
    days = [timezone.now() - timedelta(days=d) for d in (3, 2, 2, 2, 2, 1)]
    for statement_id, stored in zip(ids, days, strict=True):
        Statement.objects.filter(pk=statement_id).update(stored=stored)
    etl.flatten_ids(ids)
    StatementFlat.objects.update(verb_id="broken")
    since = (timezone.now() - timedelta(days=2, hours=1)).isoformat()
    until = (timezone.now() - timedelta(days=1, hours=12)).isoformat()
    # when a backfill of that range is interrupted after its first batch
    calls = {"n": 0}
    original = etl.flatten_ids

    def flaky(batch, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(batch, **kwargs)

    etl.flatten_ids = flaky
    try:
        with pytest.raises(KeyboardInterrupt):
            call_command(
                "backfill_statements", since=since, until=until, batch_size=2, stdout=StringIO()
            )
    finally:
        etl.flatten_ids = original
    assert StatementFlat.objects.exclude(verb_id="broken").count() == 2
    checkpoint = EtlCheckpoint.objects.get(name__startswith="backfill:")
    assert checkpoint.position_id is not None
    # and run again with the same range
    out = StringIO()
    call_command("backfill_statements", since=since, until=until, batch_size=2, stdout=out)
    # then it did only the rest, and only the range
    assert "re-flattened 2 statements" in out.getvalue()
    repaired = set(
        StatementFlat.objects.exclude(verb_id="broken").values_list("statement_id", flat=True)
    )
    assert repaired == set(ids[1:5])
    assert StatementFlat.objects.count() == 6


@pytest.mark.django_db
def test_backfill_refuses_a_bad_range():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("backfill_statements", since="2026-11-02", until="2026-11-01")
    with pytest.raises(CommandError):
        call_command("backfill_statements", since="last week")


@pytest.mark.django_db
def test_etl_consume_command_drains_the_stream_once(streaming, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ids = store(StatementFactory.build_batch(2))
    out = StringIO()
    call_command("etl_consume", once=True, block_ms=0, stdout=out)
    assert "'flattened': 2" in out.getvalue()
    assert StatementFlat.objects.filter(statement_id__in=ids).count() == 2


@pytest.mark.django_db
def test_etl_lag_reports_unflattened_statements_and_the_stream(
    streaming, django_capture_on_commit_callbacks
):
    from analytics.selectors import etl_lag

    with django_capture_on_commit_callbacks(execute=True):
        store(StatementFactory.build_batch(3))
    lag = etl_lag()
    assert (lag.mode, lag.unflattened, lag.stream_length) == ("streaming", 3, 1)
    assert lag.lag_seconds >= 0 and lag.oldest_unflattened_stored is not None
    etl.consume()
    lag = etl_lag()
    assert (lag.unflattened, lag.stream_pending, lag.lag_seconds) == (0, 0, 0.0)


@pytest.mark.django_db(transaction=True)
def test_two_live_consumers_share_the_stream_and_flatten_each_statement_once(streaming, settings):
    # given 20 committed batches on the stream
    settings.ANALYTICS_ETL_BATCH_ENTRIES = 3
    all_ids = []
    for _ in range(20):
        all_ids += store(StatementFactory.build_batch(5))
    barrier = threading.Barrier(2)
    results = {}

    def run(name):
        try:
            barrier.wait()
            results[name] = etl.consume(consumer=name)
        finally:
            connections.close_all()

    # when two consumers drain it at the same time
    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # then the entries were split between them, and every statement has one flat row
    assert results["a"]["entries"] + results["b"]["entries"] == 20
    assert StatementFlat.objects.count() == 100
    assert set(StatementFlat.objects.values_list("statement_id", flat=True)) == set(all_ids)
