"""Plan (and optionally send now) the lessons whose local send time has come."""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from core.jobs import job_run
from delivery.models import DeliveryTask, TaskState
from delivery.planning import plan_dispatch
from delivery.services import send_next_due


class Command(BaseCommand):
    help = "Plan today's lessons for due learners; --dry-run shows who, --now also sends them."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--dry-run", action="store_true", help="Count due learners only.")
        group.add_argument(
            "--now", action="store_true", help="Send due tasks in this process, not via workers."
        )

    def handle(self, *args, dry_run=False, now=False, **options):
        with job_run("delivery.dispatch_lessons") as run:
            summary = plan_dispatch(dry_run=dry_run)
            run.count("planned", summary.planned)
            verb = "would plan" if dry_run else "planned"
            for zone, count in sorted(summary.by_zone.items()):
                self.stdout.write(f"{zone}: {count}")
            self.stdout.write(f"{verb} {summary.planned} lesson(s)")
            if not now:
                return
            due = DeliveryTask.objects.filter(
                state__in=[TaskState.PENDING, TaskState.FAILED, TaskState.RETURNED],
                next_attempt_at__isnull=False,
            ).count()
            results: dict[str, int] = {}
            with tqdm(total=due, desc="sending", unit="msg", file=self.stderr) as bar:
                while (outcome := send_next_due()) is not None:
                    results[outcome.result] = results.get(outcome.result, 0) + 1
                    bar.update(1)
                    if outcome.result == "deferred" and results["deferred"] > due:
                        break
            for key, value in sorted(results.items()):
                run.count(key, value)
                self.stdout.write(f"{key}: {value}")
