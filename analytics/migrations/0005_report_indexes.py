"""
Indexes the reporting API needs on other apps' tables (PostgreSQL only; embedded SQLite
scans), measured on 1,000,000 statements and 100,000 learners (tests/benchmarks/
bench_reports.py):

- delivery tasks and attempts by creation time: the delivery-health report reads a window
  of days, and without them every request scanned both tables whole;
- learners by (last name, first name, id), the order every learner report (and the
  learners API) pages in: a page is then an index walk, not a sort of every learner; a
  deep page of "learners without completion" went from ~250 ms to ~60 ms.

Built CONCURRENTLY (outside a transaction) so a deploy does not block those apps' writes.
"""

from django.db import migrations

INDEXES = {
    "analytics_delivery_task_created_idx": "delivery_deliverytask (created_at)",
    "analytics_delivery_attempt_created_idx": "delivery_deliveryattempt (created_at)",
    "analytics_learner_name_idx": "learners_learner (last_name, first_name, id)",
}


def _create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {target}")


def _drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("analytics", "0004_engagement_reports_console"),
        ("delivery", "0002_learnerdeliverystate_consentrecord_deliverytask_and_more"),
        ("learners", "0001_initial"),
    ]

    operations = [migrations.RunPython(_create, _drop)]
