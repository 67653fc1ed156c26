"""
Issue promotional gift cards in bulk and write their codes to a CSV, once.

    manage.py bulk_gift_cards --count 500 --amount 10.00 --currency USD --prefix SPRING \
        --expires 2027-06-30 --output spring-codes.csv

The CSV is the only place the plain codes ever exist: it is created exclusively (an existing
file is never overwritten) with owner-only permissions; hand it over and delete it.
"""

import csv
import os
from datetime import UTC, datetime, time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from gift_cards.errors import GiftCardError
from gift_cards.services import GiftCardService


class Command(BaseCommand):
    help = "Create promotional gift cards in bulk and write their codes to a new CSV file."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True)
        parser.add_argument("--amount", required=True, help='per card, e.g. "10.00"')
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--prefix", default="PROMO")
        parser.add_argument("--expires", help="YYYY-MM-DD (end of that day, UTC); default 1 year")
        parser.add_argument("--output", required=True, help="CSV path; must not exist yet")
        parser.add_argument("--actor", default="", help="who is issuing (kept in the ledger)")

    def handle(self, *args, count, amount, currency, prefix, expires, output, actor, **options):
        expires_at = None
        if expires:
            try:
                day = datetime.strptime(expires, "%Y-%m-%d").date()
            except ValueError as exc:
                raise CommandError("--expires must be YYYY-MM-DD.") from exc
            expires_at = datetime.combine(day, time.max, tzinfo=UTC)
        try:
            # Exclusive create before any card exists: the codes can be written exactly once.
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise CommandError(f"{output} exists; codes are written to a new file only.") from exc

        try:
            with tqdm(total=count, desc="issuing", unit="card", file=self.stderr) as bar:
                cards = GiftCardService().bulk_create(
                    count=count,
                    amount=amount,
                    currency=currency,
                    prefix=prefix,
                    expires_at=expires_at,
                    acting_user_id=actor or "cli:bulk_gift_cards",
                    progress=bar.update,
                )
        except (GiftCardError, ValueError) as exc:
            os.close(fd)
            os.unlink(output)
            raise CommandError(str(getattr(exc, "message", exc))) from exc

        with os.fdopen(fd, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["gift_card_id", "code", "amount", "currency", "expires_at"])
            for card in cards:
                writer.writerow(
                    [card.pk, card.code, card.original, card.currency, card.expires_at.isoformat()]
                )
        self.stdout.write(
            self.style.SUCCESS(f"Issued {len(cards)} gift card(s); codes in {output}.")
        )
