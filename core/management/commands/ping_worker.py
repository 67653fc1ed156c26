from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Send core.ping through the broker and wait for a worker's answer."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=30.0)

    def handle(self, *args, timeout: float, **options):
        from celery.exceptions import TimeoutError as CeleryTimeout

        from core.tasks import ping_task

        result = ping_task.apply_async(queue="default")
        try:
            answer = result.get(timeout=timeout)
        except CeleryTimeout as exc:
            raise CommandError(
                f"No worker answered within {timeout:.0f}s (task {result.id})."
            ) from exc
        self.stdout.write(self.style.SUCCESS(f"worker answered: {answer} (task {result.id})"))
