"""`manage.py import_learners FILE.csv` — bulk import an HR export, idempotent on employee_id."""

import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from learners.importing import OPTIONAL, REQUIRED, learner_import_csv


def _count_rows(path: str) -> int:
    with open(path, "rb") as handle:
        return max(
            sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1, 0
        )


class Command(BaseCommand):
    help = (
        "Import learners from a CSV with columns "
        f"{', '.join(REQUIRED)} (required) and {', '.join(OPTIONAL)} (optional). "
        "Existing learners are updated by employee_id; bad rows are reported by line."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")

    def handle(self, *args, file: str, batch_size: int, no_progress: bool, **options):
        try:
            total = _count_rows(file)
        except FileNotFoundError as exc:
            raise CommandError(f"No such file: {file}") from exc
        with tqdm(
            total=total, unit="rows", desc="learners", disable=no_progress, file=sys.stderr
        ) as bar:
            try:
                report = learner_import_csv(path=file, batch_size=batch_size, progress=bar.update)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        for error in report.errors:
            self.stderr.write(f"rejected {error}")
        for warning in report.warnings:
            self.stderr.write(f"warning {warning}")
        style = self.style.WARNING if report.errors else self.style.SUCCESS
        self.stdout.write(style(f"Imported {file}: {report}"))
