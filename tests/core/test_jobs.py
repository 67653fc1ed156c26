import pytest

from core.jobs import job_run, tracked_job
from core.logging import request_id_var
from core.models import JobRun


@pytest.mark.django_db
def test_job_run_records_counts_and_success():
    token = request_id_var.set("req-7")
    try:
        with job_run("lessons.dispatch") as run:
            run.count("sent", 3)
            run.count("sent")
            run.set("skipped", 2)
    finally:
        request_id_var.reset(token)
    record = JobRun.objects.get()
    assert record.status == JobRun.Status.SUCCEEDED
    assert record.counts == {"sent": 4, "skipped": 2}
    assert record.finished_at >= record.started_at
    assert record.request_id == "req-7"


@pytest.mark.django_db
def test_job_run_records_failure_and_reraises():
    with pytest.raises(ZeroDivisionError), job_run("reports.build") as run:
        run.count("rows", 10)
        1 / 0  # noqa: B018
    record = JobRun.objects.get()
    assert record.status == JobRun.Status.FAILED
    assert "ZeroDivisionError" in record.error
    assert record.counts == {"rows": 10}


@pytest.mark.django_db
def test_tracked_job_decorator_hands_the_run_to_the_body():
    @tracked_job("core.example")
    def body(run, n):
        run.count("items", n)
        return n * 2

    assert body(5) == 10
    assert JobRun.objects.get(name="core.example").counts == {"items": 5}


@pytest.mark.django_db
def test_prune_task_writes_its_own_job_run():
    from core.tasks import prune_task

    prune_task.delay()
    run = JobRun.objects.get(name="core.prune")
    assert run.status == JobRun.Status.SUCCEEDED
    assert run.counts == {"job_runs_deleted": 0, "outbox_events_deleted": 0}
