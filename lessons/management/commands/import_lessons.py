"""`manage.py import_lessons FILE` — load a lesson bank (JSON or YAML), idempotent on keys."""

from django.core.management.base import BaseCommand, CommandError

from lessons.errors import LessonBankError
from lessons.services import lesson_bank_import, lesson_bank_load


class Command(BaseCommand):
    help = "Load topics, authored microlessons and path templates from a JSON or YAML bank."

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to a .json, .yaml or .yml lesson bank.")

    def handle(self, *args, file: str, **options):
        try:
            summary = lesson_bank_import(data=lesson_bank_load(file))
        except FileNotFoundError as exc:
            raise CommandError(f"No such file: {file}") from exc
        except LessonBankError as exc:
            for problem in exc.extra.get("errors", []):
                self.stderr.write(f"  {problem}")
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"Imported {file}: {summary}"))
