"""Re-flatten the statements stored in a time range, resumably (a checkpoint per range)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from analytics import etl
from analytics.errors import StatementInvalidError
from analytics.models import Statement
from analytics.validation import parse_timestamp


def _when(value: str | None, name: str):
    if not value:
        return None
    try:
        return parse_timestamp(value if "T" in value else f"{value}T00:00:00Z", name)
    except StatementInvalidError as exc:
        raise CommandError(f"--{name}: not an ISO 8601 date or timestamp: {value!r}") from exc


class Command(BaseCommand):
    help = (
        "Re-flatten statements stored after --since and up to --until into the query table. "
        "Interrupted runs resume where they stopped (same range); --restart starts over."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", help="ISO 8601 date or timestamp (exclusive)")
        parser.add_argument("--until", help="ISO 8601 date or timestamp (inclusive)")
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--restart", action="store_true", help="ignore the checkpoint")

    def handle(self, *args, since=None, until=None, batch_size=1000, restart=False, **options):
        since_at, until_at = _when(since, "since"), _when(until, "until")
        if since_at and until_at and since_at >= until_at:
            raise CommandError("--since must be before --until")
        bounds = [when.isoformat() if when else "-" for when in (since_at, until_at)]
        name = f"backfill:{bounds[0]}:{bounds[1]}"
        total = Statement.objects.all()
        if since_at:
            total = total.filter(stored__gt=since_at)
        if until_at:
            total = total.filter(stored__lte=until_at)
        with tqdm(total=total.count(), unit="stmt", disable=options["verbosity"] == 0) as bar:
            done = etl.reflatten_range(
                since=since_at,
                until=until_at,
                checkpoint_name=name,
                batch_size=batch_size,
                restart=restart,
                progress=bar.update,
            )
        self.stdout.write(f"re-flattened {done} statements (checkpoint {name})")
