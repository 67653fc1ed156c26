"""Scheduled reports: cron slots in time zones and across DST, one run per slot (also with
concurrent workers on PostgreSQL), the CSV and PDF a run produces, signed download links,
the beat tasks and the admin."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from analytics.models import (
    ExecutionStatus,
    ReportDelivery,
    ReportDeliveryState,
    ReportExecution,
    ReportSchedule,
    ReportTarget,
    TargetKind,
)
from analytics.schedules import cron, links, services
from analytics.tasks import report_schedules_run_due_task
from core.models import JobRun
from tests.analytics.scheduled_reports_support import (
    PUBLIC_BASE_URL,
    make_schedule,
    pdf_pages,
    pdf_text,
    run_once,
)
from tests.concurrency import run_in_threads
from tests.learners.factories import CohortFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sales_report", "media")]

UTC = datetime.UTC


def at(year, month, day, hour=0, minute=0, second=0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- cron and time zones ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "code"),
    [
        ("* * *", "cron_fields"),
        ("0 0 * * * *", "cron_fields"),
        ("@daily", "cron_fields"),
        ("61 * * * *", "cron_invalid"),
        ("0 25 * * *", "cron_invalid"),
        ("0 7 * * mon-xyz", "cron_invalid"),
        ("0 0 30 2 *", "cron_invalid"),  # 30 February never comes
    ],
)
def test_invalid_cron_expressions_are_refused_with_a_reason(expression, code):
    with pytest.raises(ValidationError) as caught:
        cron.validate_cron(expression)
    assert caught.value.code == code


def test_valid_cron_expressions_pass_and_read_as_english():
    for expression in ["0 7 * * 1", "*/15 9-17 * * 1-5", "0 6 1 * *", "30 8 * * mon"]:
        cron.validate_cron(expression)
    assert cron.describe("0 7 * * 1") == "At 07:00 on Monday"


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "utc ", "../etc/passwd"])
def test_unknown_time_zones_are_refused(name):
    with pytest.raises(ValidationError) as caught:
        cron.validate_time_zone(name)
    assert caught.value.code == "time_zone_invalid"


def test_model_validation_names_the_bad_fields():
    schedule = ReportSchedule(name="x", report="test-sales", cron="0 7 * *", time_zone="Nowhere")
    with pytest.raises(ValidationError) as caught:
        schedule.full_clean()
    assert set(caught.value.message_dict) == {"cron", "time_zone"}


def test_slots_are_computed_on_the_schedule_clock():
    # Mondays 07:00 in London: 07:00 UTC in winter, 06:00 UTC in summer (BST)
    assert cron.next_slot("0 7 * * 1", "Europe/London", after=at(2026, 1, 7)) == at(2026, 1, 12, 7)
    assert cron.next_slot("0 7 * * 1", "Europe/London", after=at(2026, 7, 1)) == at(2026, 7, 6, 6)
    # 07:00 in New York is 12:00 UTC in winter (EST)
    assert cron.next_slot("0 7 * * *", "America/New_York", after=at(2026, 1, 7, 13)) == at(
        2026, 1, 8, 12
    )


def test_spring_forward_runs_a_skipped_time_when_the_clock_jumps():
    # 29 March 2026 in London: 01:00 GMT becomes 02:00 BST, so 01:30 does not exist
    slots = list(
        cron.slots_between(
            "30 1 * * *", "Europe/London", after=at(2026, 3, 27, 12), until=at(2026, 3, 31)
        )
    )
    assert slots == [
        at(2026, 3, 28, 1, 30),  # 01:30 GMT
        at(2026, 3, 29, 1, 0),  # the jump: 02:00 BST
        at(2026, 3, 30, 0, 30),  # 01:30 BST
    ]


def test_fall_back_runs_a_daily_report_once_but_wildcard_hours_by_elapsed_time():
    # 25 October 2026 in London: 02:00 BST becomes 01:00 GMT, so 01:30 happens twice
    daily = list(
        cron.slots_between(
            "30 1 * * *", "Europe/London", after=at(2026, 10, 24, 12), until=at(2026, 10, 27)
        )
    )
    assert daily == [at(2026, 10, 25, 0, 30), at(2026, 10, 26, 1, 30)]
    half_hourly = list(
        cron.slots_between(
            "*/30 * * * *",
            "Europe/London",
            after=at(2026, 10, 24, 23, 45),
            until=at(2026, 10, 25, 2, 0),
        )
    )
    assert half_hourly == [
        at(2026, 10, 25, 0, 0),
        at(2026, 10, 25, 0, 30),
        at(2026, 10, 25, 1, 0),
        at(2026, 10, 25, 1, 30),
        at(2026, 10, 25, 2, 0),
    ]


# --- saving a schedule -----------------------------------------------------------------------


def test_saving_computes_the_next_run_in_the_schedule_time_zone():
    schedule = ReportSchedule(
        name="Weekly", report="test-sales", cron="0 7 * * 1", time_zone="Europe/Paris"
    )
    services.report_schedule_save(schedule=schedule, now=at(2026, 6, 30, 12))
    assert schedule.pk and schedule.next_run_at == at(2026, 7, 6, 5)  # 07:00 CEST


def test_saving_refuses_bad_cron_report_or_parameters():
    bad = [
        ({"cron": "0 7 * *"}, "cron"),
        ({"time_zone": "Europe/Atlantis"}, "time_zone"),
        ({"report": "no-such-report"}, "report"),
        ({"parameters": {"region": "East", "rows": -1}}, "parameters"),
        ({"parameters": ["North"]}, "parameters"),
    ]
    for change, field in bad:
        fields = {"name": "x", "report": "test-sales", "cron": "0 7 * * *", "parameters": {}}
        schedule = ReportSchedule(**{**fields, **change})
        with pytest.raises(ValidationError) as caught:
            services.report_schedule_save(schedule=schedule)
        assert field in caught.value.message_dict, change
    assert not ReportSchedule.objects.exists()
    # the report's own field errors are kept
    schedule = ReportSchedule(
        name="x", report="test-sales", cron="0 7 * * *", parameters={"region": "East"}
    )
    with pytest.raises(ValidationError) as caught:
        services.report_schedule_save(schedule=schedule)
    assert any(m.startswith("region:") for m in caught.value.message_dict["parameters"])


def test_pausing_clears_the_next_run_and_resuming_does_not_replay_missed_slots():
    schedule = ReportSchedule(name="Hourly", report="test-sales", cron="0 * * * *")
    services.report_schedule_save(schedule=schedule, now=at(2026, 3, 2, 9, 10))
    assert schedule.next_run_at == at(2026, 3, 2, 10)
    schedule.is_active = False
    services.report_schedule_save(schedule=schedule, now=at(2026, 3, 2, 9, 20))
    assert schedule.next_run_at is None
    schedule.is_active = True
    services.report_schedule_save(schedule=schedule, now=at(2026, 3, 5, 14, 30))
    assert schedule.next_run_at == at(2026, 3, 5, 15)


# --- run_due ----------------------------------------------------------------------------------


def test_a_due_schedule_gets_one_run_for_its_slot_and_moves_on(django_capture_on_commit_callbacks):
    # given a daily 07:00 schedule due now, and one not yet due, and a paused one
    due = make_schedule(next_run_at=at(2026, 3, 2, 7))
    later = make_schedule(name="Later", next_run_at=at(2026, 3, 2, 8))
    paused = make_schedule(name="Paused", next_run_at=at(2026, 3, 2, 6), is_active=False)
    # when beat runs at 07:00:30
    with django_capture_on_commit_callbacks(execute=True):
        result = services.report_schedules_run_due(now=at(2026, 3, 2, 7, 0, 30))
    # then only the due one ran, for its slot, and was generated
    [execution] = ReportExecution.objects.all()
    assert result.executions == [execution.pk] and result.missed_slots == 0
    assert execution.schedule == due and execution.scheduled_for == at(2026, 3, 2, 7)
    assert execution.status == ExecutionStatus.SUCCEEDED
    due.refresh_from_db()
    assert due.next_run_at == at(2026, 3, 3, 7)
    assert due.last_run_at == at(2026, 3, 2, 7, 0, 30)
    later.refresh_from_db()
    paused.refresh_from_db()
    assert later.next_run_at == at(2026, 3, 2, 8) and later.last_run_at is None
    assert paused.last_run_at is None


def test_running_twice_for_the_same_minute_opens_one_run():
    make_schedule(next_run_at=at(2026, 3, 2, 7))
    first = services.report_schedules_run_due(now=at(2026, 3, 2, 7, 0))
    second = services.report_schedules_run_due(now=at(2026, 3, 2, 7, 0))
    assert len(first.executions) == 1 and second.executions == []
    assert ReportExecution.objects.count() == 1


def test_the_same_slot_can_never_be_stored_twice():
    schedule = make_schedule(next_run_at=at(2026, 3, 2, 7))
    ReportExecution.objects.create(
        schedule=schedule, report="test-sales", scheduled_for=at(2026, 3, 2, 7)
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportExecution.objects.create(
            schedule=schedule, report="test-sales", scheduled_for=at(2026, 3, 2, 7)
        )
    # ad hoc runs ("run now") have no slot and are not limited
    run_once(schedule)
    run_once(schedule)
    assert schedule.executions.filter(scheduled_for__isnull=True).count() == 2


def test_slots_missed_while_beat_was_down_are_coalesced_into_the_latest():
    schedule = make_schedule(cron="0 * * * *", next_run_at=at(2026, 3, 2, 10))
    result = services.report_schedules_run_due(now=at(2026, 3, 2, 15, 20))
    [execution] = ReportExecution.objects.all()
    assert execution.scheduled_for == at(2026, 3, 2, 15)
    assert result.missed_slots == 5
    schedule.refresh_from_db()
    assert schedule.next_run_at == at(2026, 3, 2, 16)


def test_a_daily_london_report_runs_once_a_day_through_both_dst_changes():
    # given 01:30 every day in London, with beat ticking every 10 minutes around both changes
    schedule = make_schedule(cron="30 1 * * *", time_zone="Europe/London")
    for start, end in [
        (at(2026, 3, 27, 12), at(2026, 3, 31)),
        (at(2026, 10, 24), at(2026, 10, 27)),
    ]:
        schedule.refresh_from_db()
        schedule.next_run_at = None
        services.report_schedule_save(schedule=schedule, now=start)
        now = start
        while now <= end:
            services.report_schedules_run_due(now=now)
            now += datetime.timedelta(minutes=10)
    # then every local day had exactly one run, at 01:30 or (on the spring day) 02:00
    slots = schedule.executions.order_by("scheduled_for").values_list("scheduled_for", flat=True)
    assert list(slots) == [
        at(2026, 3, 28, 1, 30),  # GMT
        at(2026, 3, 29, 1, 0),  # 01:30 did not exist: 02:00 BST
        at(2026, 3, 30, 0, 30),  # BST
        at(2026, 10, 24, 0, 30),  # BST
        at(2026, 10, 25, 0, 30),  # the first 01:30 only
        at(2026, 10, 26, 1, 30),  # GMT
    ]


def test_schedules_without_a_next_run_are_started_and_broken_ones_paused(caplog):
    fresh = make_schedule(cron="0 7 * * *", next_run_at=None)
    broken = make_schedule(name="Broken", cron="0 7 * *", next_run_at=at(2026, 3, 1))
    result = services.report_schedules_run_due(now=at(2026, 3, 2, 9))
    fresh.refresh_from_db()
    broken.refresh_from_db()
    assert fresh.next_run_at == at(2026, 3, 3, 7)
    assert result.broken == [broken.pk]
    assert not broken.is_active and broken.next_run_at is None
    assert not ReportExecution.objects.exists()


def test_runs_whose_task_was_lost_are_sent_again(django_capture_on_commit_callbacks, settings):
    # given a run opened 11 minutes ago that never started, and one whose worker died
    settings.REPORTS_EXECUTION_TIMEOUT_SECONDS = 600
    schedule = make_schedule()
    lost = ReportExecution.objects.create(schedule=schedule, report="test-sales")
    died = ReportExecution.objects.create(
        schedule=schedule,
        report="test-sales",
        status=ExecutionStatus.RUNNING,
        started_at=lost.created_at - datetime.timedelta(minutes=20),
    )
    fresh = ReportExecution.objects.create(schedule=schedule, report="test-sales")
    fresh.created_at = lost.created_at + datetime.timedelta(minutes=5)
    fresh.save()
    # when beat runs
    with django_capture_on_commit_callbacks(execute=True):
        result = services.report_schedules_run_due(
            now=lost.created_at + datetime.timedelta(minutes=11)
        )
    # then both stalled runs were generated, the recent one left to its own task
    assert result.requeued == [lost.pk, died.pk]
    statuses = dict(ReportExecution.objects.values_list("pk", "status"))
    assert statuses == {
        lost.pk: ExecutionStatus.SUCCEEDED,
        died.pk: ExecutionStatus.SUCCEEDED,
        fresh.pk: ExecutionStatus.PENDING,
    }


@pytest.mark.django_db(transaction=True)
def test_concurrent_beat_runs_on_postgresql_open_one_run_per_slot():
    assert connection.vendor == "postgresql"
    schedules = [make_schedule(name=f"S{i}", next_run_at=at(2026, 3, 2, 7)) for i in range(3)]
    now = at(2026, 3, 2, 7, 0)
    # when four beat processes run at once
    results, errors = run_in_threads(
        *[lambda: services.report_schedules_run_due(now=now) for _ in range(4)]
    )
    assert errors == [None] * 4
    # then each schedule ran exactly once for the 07:00 slot, by whichever worker claimed it
    assert sorted(e for r in results for e in r.executions) == sorted(
        ReportExecution.objects.values_list("pk", flat=True)
    )
    for schedule in schedules:
        assert schedule.executions.filter(scheduled_for=now).count() == 1
        assert schedule.executions.get().status == ExecutionStatus.SUCCEEDED  # eager execute


@pytest.mark.django_db(transaction=True)
def test_concurrent_inserts_of_one_slot_store_one_run():
    schedule = make_schedule(next_run_at=at(2026, 3, 2, 7))

    def create():
        return ReportExecution.objects.get_or_create(
            schedule=schedule, scheduled_for=at(2026, 3, 2, 7), defaults={"report": "x"}
        )[1]

    created, errors = run_in_threads(*[create] * 4)
    assert errors == [None] * 4
    assert sorted(created) == [False, False, False, True]
    assert ReportExecution.objects.count() == 1


def test_the_beat_task_records_a_job_run_and_is_scheduled_every_minute():
    make_schedule(next_run_at=at(2020, 1, 1, 7))
    report_schedules_run_due_task.delay()
    run = JobRun.objects.get(name="analytics.reports.run_due")
    assert run.status == JobRun.Status.SUCCEEDED and run.counts["executions"] == 1
    beat = django_settings.CELERY_BEAT_SCHEDULE
    assert beat["analytics-reports-run-due"]["task"] == "analytics.reports.run_due"
    assert beat["analytics-reports-retry-due"]["task"] == "analytics.reports.retry_due"
    assert django_settings.CELERY_TASK_ROUTES["analytics.reports.*"]["queue"] == "reports"


# --- generating the files --------------------------------------------------------------------


def _csv_rows(execution):
    with execution.csv_file.open("rb") as handle:
        data = handle.read()
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_a_run_produces_a_csv_and_a_readable_pdf():
    schedule = make_schedule(parameters={"region": "South", "rows": 4}, time_zone="Europe/London")
    execution = run_once(schedule)
    execution.refresh_from_db()
    # the run
    assert execution.status == ExecutionStatus.SUCCEEDED and execution.error == ""
    assert execution.title == "Test sales: South" and execution.row_count == 4
    assert execution.summary == {"total": "407.00", "stores": 5}
    assert execution.started_at <= execution.finished_at
    # the CSV: header of labels, every row, formula-looking text neutralised
    rows = _csv_rows(execution)
    assert rows[0] == ["Day", "Store", "Amount", "Note"]
    assert rows[1] == ["2026-03-02", "Leeds", "100.25", "'=SUM(A1)"]
    assert len(rows) == 5
    assert execution.csv_file.name.endswith(".csv") and "test-sales-" in execution.csv_file.name
    # the PDF: a PDF, with the title, parameters, summary and the rows
    with execution.pdf_file.open("rb") as handle:
        pdf = handle.read()
    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf)
    for expected in ["Test sales: South", "Parameters", "Region", "South", "Summary", "407.00"]:
        assert expected in text
    assert "Leeds" in text and "103.25" in text and "Generated" in text


def test_the_pdf_repeats_the_header_on_every_page_and_caps_its_rows(settings):
    settings.REPORTS_PDF_MAX_ROWS = 120
    execution = run_once(make_schedule(parameters={"rows": 300}))
    with execution.pdf_file.open("rb") as handle:
        pages = pdf_pages(handle.read())
    assert len(pages) >= 3
    for page in pages:
        assert "Day" in page and "Store" in page and "Amount" in page
    assert "first 120 of 300 rows" in pages[-1]
    assert "note 119" in pages[-1] and "note 120" not in "".join(pages)
    assert len(_csv_rows(execution)) == 301  # the CSV has them all
    assert execution.row_count == 300


def test_an_empty_report_still_makes_both_files():
    execution = run_once(make_schedule(parameters={"rows": 0}))
    assert execution.row_count == 0 and _csv_rows(execution) == [["Day", "Store", "Amount", "Note"]]
    with execution.pdf_file.open("rb") as handle:
        assert "No rows." in pdf_text(handle.read())


def test_a_real_report_runs_on_a_schedule():
    cohort = CohortFactory(name="Leeds")
    schedule = make_schedule(report="cohort-completions", parameters={"cohort": cohort.pk})
    execution = run_once(schedule)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error
    assert "Leeds" in execution.title and execution.row_count == 0
    with execution.pdf_file.open("rb") as handle:
        assert execution.title in pdf_text(handle.read())


def test_a_failing_report_marks_the_run_failed_and_delivers_nothing():
    schedule = make_schedule(
        parameters={"explode": True}, targets=[(TargetKind.EMAIL, "a@example.com")]
    )
    execution = run_once(schedule)
    assert execution.status == ExecutionStatus.FAILED
    assert "the sales ledger is unreachable" in execution.error
    assert not execution.csv_file and not execution.pdf_file
    assert not ReportDelivery.objects.exists()


def test_parameters_that_went_stale_fail_the_run_with_the_field_error():
    cohort = CohortFactory(name="Closed store")
    schedule = make_schedule(report="cohort-completions", parameters={"cohort": cohort.pk})
    cohort.delete()
    execution = run_once(schedule)
    assert execution.status == ExecutionStatus.FAILED
    assert execution.error.startswith("The schedule's parameters are no longer valid: cohort:")


def test_generation_is_idempotent_and_queues_one_delivery_per_active_target():
    schedule = make_schedule(
        targets=[(TargetKind.EMAIL, "a@example.com"), (TargetKind.SLACK, "C0123ABCD")]
    )
    ReportTarget.objects.create(
        schedule=schedule, kind=TargetKind.WEBHOOK, address="https://x.example", is_active=False
    )
    execution = run_once(schedule)
    again = services.report_execution_run(execution_id=execution.pk)
    assert again is None
    deliveries = ReportDelivery.objects.filter(execution=execution)
    assert sorted(d.target.kind for d in deliveries) == ["email", "slack"]
    assert all(d.state == ReportDeliveryState.QUEUED for d in deliveries)
    assert all(d.next_attempt_at == execution.finished_at for d in deliveries)


def test_a_run_left_running_by_a_dead_worker_is_taken_over_after_the_timeout(settings):
    settings.REPORTS_EXECUTION_TIMEOUT_SECONDS = 600
    schedule = make_schedule()
    execution = ReportExecution.objects.create(
        schedule=schedule,
        report="test-sales",
        parameters={},
        status=ExecutionStatus.RUNNING,
        started_at=at(2026, 3, 2, 7),
    )
    assert (
        services.report_execution_run(execution_id=execution.pk, now=at(2026, 3, 2, 7, 5)) is None
    )
    taken = services.report_execution_run(execution_id=execution.pk, now=at(2026, 3, 2, 7, 11))
    assert taken.status == ExecutionStatus.SUCCEEDED


# --- signed download links -------------------------------------------------------------------


def _path_and_sig(url: str) -> tuple[str, str]:
    assert url.startswith(PUBLIC_BASE_URL)
    path, _, query = url[len(PUBLIC_BASE_URL) :].partition("?")
    return path, query.removeprefix("sig=")


def test_a_signed_link_downloads_the_file(client, settings):
    settings.DELIVERY_PUBLIC_BASE_URL = PUBLIC_BASE_URL
    execution = run_once(make_schedule())
    for kind, content_type in [("csv", "text/csv"), ("pdf", "application/pdf")]:
        path, sig = _path_and_sig(links.file_url(execution.pk, kind))
        assert path == f"/reports/executions/{execution.pk}/{kind}"
        response = client.get(path, {"sig": sig})
        assert response.status_code == 200
        assert response["Content-Type"] == content_type
        assert response["Content-Disposition"].startswith("attachment; filename=")
        assert response["Cache-Control"] == "private, no-store"
        stored = getattr(execution, f"{kind}_file")
        with stored.open("rb") as handle:
            assert b"".join(response.streaming_content) == handle.read()


def test_tampered_or_misused_links_are_refused(client):
    execution = run_once(make_schedule())
    other = run_once(make_schedule(name="Other"))
    sig = links.file_signature(execution.pk, "csv")
    refused = [
        (
            f"/reports/executions/{execution.pk}/csv",
            {"sig": sig[:-1] + ("A" if sig[-1] != "A" else "B")},
        ),
        (f"/reports/executions/{execution.pk}/pdf", {"sig": sig}),  # the other file
        (f"/reports/executions/{other.pk}/csv", {"sig": sig}),  # another run
        (f"/reports/executions/{execution.pk}/csv", {}),  # no signature
        (f"/reports/executions/{execution.pk}/csv", {"sig": "garbage"}),
        (f"/reports/executions/{execution.pk}/xls", {"sig": sig}),
    ]
    for path, params in refused:
        response = client.get(path, params)
        assert response.status_code == 404, (path, params)
        assert "Link not valid" in response.content.decode()


def test_an_expired_link_answers_410(client, settings, monkeypatch):
    settings.REPORTS_LINK_MAX_AGE = 3600
    execution = run_once(make_schedule())
    real_time = signing.time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() - 3601)
    sig = links.file_signature(execution.pk, "pdf")
    monkeypatch.setattr(signing.time, "time", real_time)
    response = client.get(f"/reports/executions/{execution.pk}/pdf", {"sig": sig})
    assert response.status_code == 410
    assert "Link expired" in response.content.decode()
    # a link made a minute before the limit still works
    monkeypatch.setattr(signing.time, "time", lambda: real_time() - 3540)
    fresh = links.file_signature(execution.pk, "pdf")
    monkeypatch.setattr(signing.time, "time", real_time)
    assert client.get(f"/reports/executions/{execution.pk}/pdf", {"sig": fresh}).status_code == 200


def test_staff_download_without_a_signature_but_other_users_cannot(client, django_user_model):
    execution = run_once(make_schedule())
    path = f"/reports/executions/{execution.pk}/csv"
    associate = django_user_model.objects.create_user("associate", password="pw-123456!")
    client.force_login(associate)
    assert client.get(path).status_code == 404
    admin_user = django_user_model.objects.create_superuser("root", "r@example.com", "pw-1234!")
    client.force_login(admin_user)
    assert client.get(path).status_code == 200


def test_a_failed_run_has_nothing_to_download(client):
    execution = run_once(make_schedule(parameters={"explode": True}))
    sig = links.file_signature(execution.pk, "csv")
    assert client.get(f"/reports/executions/{execution.pk}/csv", {"sig": sig}).status_code == 404


# --- admin -----------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, django_user_model):
    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-123!")
    client.force_login(admin_user)
    return client


def _schedule_form(**overrides):
    data = {
        "name": "Weekly sales",
        "report": "test-sales",
        "parameters": '{"region": "South"}',
        "cron": "0 7 * * 1",
        "time_zone": "Europe/London",
        "is_active": "on",
        "targets-TOTAL_FORMS": "2",
        "targets-INITIAL_FORMS": "0",
        "targets-MIN_NUM_FORMS": "0",
        "targets-MAX_NUM_FORMS": "1000",
        "targets-0-kind": "email",
        "targets-0-address": "managers@example.com",
        "targets-0-config": "{}",
        "targets-0-is_active": "on",
        "targets-1-kind": "slack",
        "targets-1-address": "C0REPORTS",
        "targets-1-config": "{}",
        "targets-1-is_active": "on",
    }
    data.update(overrides)
    return data


def test_admin_creates_a_schedule_with_targets_and_its_next_run(admin_client):
    response = admin_client.post(reverse("admin:analytics_reportschedule_add"), _schedule_form())
    assert response.status_code == 302, response.content.decode()[:3000]
    schedule = ReportSchedule.objects.get()
    assert schedule.parameters == {"region": "South"}
    assert sorted(schedule.targets.values_list("kind", flat=True)) == ["email", "slack"]
    assert schedule.next_run_at is not None
    local = schedule.next_run_at.astimezone(cron.zone("Europe/London"))
    assert (local.weekday(), local.hour, local.minute) == (0, 7, 0)
    assert schedule.created_by.username == "root"
    page = admin_client.get(reverse("admin:analytics_reportschedule_change", args=[schedule.pk]))
    assert "At 07:00 on Monday" in page.content.decode()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cron": "0 7 * *"}, "Give five fields"),
        ({"cron": "0 27 * * *"}, "Not a valid cron expression"),
        ({"time_zone": "Europe/Atlantis"}, "Unknown time zone"),
        ({"parameters": '{"region": "East"}'}, "region: &quot;East&quot; is not a valid choice."),
        ({"targets-0-address": "not-an-email"}, "Enter an e-mail address."),
        ({"targets-1-address": "general chat"}, "Enter a Slack channel id"),
        ({"targets-1-kind": "webhook", "targets-1-address": "ftp://x"}, "http(s) URL"),
    ],
)
def test_admin_shows_clear_errors_for_bad_input(admin_client, overrides, message):
    response = admin_client.post(
        reverse("admin:analytics_reportschedule_add"), _schedule_form(**overrides)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ReportSchedule.objects.exists()


def test_admin_run_now_and_the_run_pages(admin_client, django_capture_on_commit_callbacks):
    schedule = make_schedule(targets=[(TargetKind.EMAIL, "a@example.com")])
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:analytics_reportschedule_changelist"),
            {"action": "run_now", "_selected_action": [schedule.pk]},
        )
    execution = ReportExecution.objects.get()
    assert execution.status == ExecutionStatus.SUCCEEDED and execution.scheduled_for is None
    assert execution.requested_by.username == "root"
    # the schedule lists it, the run page links its files and shows its deliveries
    page = admin_client.get(reverse("admin:analytics_reportschedule_change", args=[schedule.pk]))
    assert f"#{execution.pk} Succeeded" in page.content.decode()
    page = admin_client.get(reverse("admin:analytics_reportexecution_change", args=[execution.pk]))
    body = page.content.decode()
    assert f'href="/reports/executions/{execution.pk}/csv"' in body
    assert f'href="/reports/executions/{execution.pk}/pdf"' in body
    assert "a@example.com" in body
    assert admin_client.get(f"/reports/executions/{execution.pk}/pdf").status_code == 200
    listing = admin_client.get(reverse("admin:analytics_reportexecution_changelist"))
    assert listing.status_code == 200


def test_admin_delivery_list_filters_by_state(admin_client):
    execution = run_once(make_schedule(targets=[(TargetKind.EMAIL, "a@example.com")]))
    url = reverse("admin:analytics_reportdelivery_changelist")
    assert admin_client.get(url, {"state__exact": "queued"}).context["cl"].result_count == 1
    assert admin_client.get(url, {"state__exact": "dead"}).context["cl"].result_count == 0
    delivery = execution.deliveries.get()
    page = admin_client.get(reverse("admin:analytics_reportdelivery_change", args=[delivery.pk]))
    assert page.status_code == 200


def test_summary_values_are_stored_as_json():
    execution = run_once(make_schedule(parameters={"rows": 2}))
    execution.refresh_from_db()
    assert Decimal(execution.summary["total"]) == Decimal("201.50")


def test_a_schedule_naming_a_cohort_of_nothing_is_a_field_error_not_a_crash():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        services.report_parameters_clean(
            report="cohort-completions", parameters={"cohort": 987_654}
        )
    assert caught.value.message_dict == {"parameters": ["cohort: no cohort with id 987654."]}
