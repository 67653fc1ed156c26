"""Prove every card's balance equals its ledger; exit 1 and list the cards that drift."""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from gift_cards.models import GiftCard
from gift_cards.selectors import gift_card_ledger_drift


class Command(BaseCommand):
    help = "Check that each gift card's balance equals the sum of its ledger (exit 1 on drift)."

    def handle(self, *args, **options):
        cards = GiftCard.objects.count()
        with tqdm(total=cards, desc="reconciling", unit="card", file=self.stderr) as bar:
            drift = gift_card_ledger_drift()
            bar.update(cards)
        if not drift:
            self.stdout.write(self.style.SUCCESS(f"{cards} gift card(s) reconcile: no drift."))
            return
        for item in drift:
            self.stdout.write(self.style.ERROR(f"card #{item.gift_card_id}: {item.problem}"))
        affected = len({item.gift_card_id for item in drift})
        self.stderr.write(f"{affected} of {cards} gift card(s) drift from their ledger.")
        raise SystemExit(1)
