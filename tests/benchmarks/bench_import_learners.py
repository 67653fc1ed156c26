"""
Benchmark: `import_learners` on an HR export of 100,000 learners.

Runs against a throwaway PostgreSQL database (created and dropped here) and prints:
    import_learners_rows: 100000 rows
    import_learners_first_run: <n> rows/s        (all rows inserted)
    import_learners_second_run: <n> rows/s       (same file again: every row unchanged)
    import_learners_peak_memory: <n> MiB         (peak RSS of this process)
"""

import csv
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def write_csv(path: Path, *, rows: int, variant: str = "") -> None:
    stores = [f"Store {i:03d}" for i in range(200)]
    regions = [f"Region {i}" for i in range(12)]
    teams = ["Tills", "Floor", "Stockroom", "Service desk"]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "employee_id", "first_name", "last_name", "email", "phone", "role",
                "knowledge_level", "preferred_channel", "slack_user_id", "time_zone",
                "store", "region", "team", "manager_employee_id",
            ]
        )  # fmt: skip
        managers = max(rows // 20, 1)
        for i in range(rows):
            is_manager = i < managers
            writer.writerow(
                [
                    f"E{i:07d}",
                    f"First{i}{variant}",
                    f"Last{i}",
                    f"associate{i}@frontline.test",
                    f"+1555{i:07d}",
                    "manager" if is_manager else "sales_associate",
                    "beginner",
                    ("email", "sms", "slack")[i % 3],
                    f"U{i:08d}",
                    "Europe/London" if i % 2 else "America/New_York",
                    stores[i % len(stores)],
                    regions[i % len(regions)],
                    teams[i % len(teams)],
                    "" if is_manager else f"E{i % managers:07d}",
                ]
            )


def main() -> None:
    import django
    from django.conf import settings

    django.setup()
    # Tables straight from the models: the benchmark measures the import, not migrations.
    settings.MIGRATION_MODULES = {app.split(".")[-1]: None for app in settings.INSTALLED_APPS}
    from django.db import connection

    connection.settings_dict["TEST"]["NAME"] = f"bench_{connection.settings_dict['NAME']}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from learners.importing import learner_import_csv
        from learners.models import Learner

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "hr.csv"
            write_csv(path, rows=ROWS)
            figures = {}
            for label in ("first_run", "second_run"):
                start = time.perf_counter()
                report = learner_import_csv(path=path)
                figures[label] = ROWS / (time.perf_counter() - start)
                assert not report.errors and not report.warnings, report.errors[:3]
            assert report.unchanged == ROWS, report
            assert Learner.objects.count() == ROWS
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"import_learners_rows: {ROWS} rows")
        for label, rate in figures.items():
            print(f"import_learners_{label}: {rate:,.0f} rows/s")
        print(f"import_learners_peak_memory: {peak_mib:,.0f} MiB")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
