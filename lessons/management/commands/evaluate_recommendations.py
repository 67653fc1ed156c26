"""manage.py evaluate_recommendations [--k 10] [--test-fraction 0.2] [--sample 5000]

Splits the recorded interactions by time and prints precision@k, recall@k, NDCG@k and
catalogue coverage for each strategy and for a most-popular baseline. `--synthetic`
first loads a synthetic population with cohort structure (into an empty database only).
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from lessons.models import LearnerInteraction
from lessons.recommendations.evaluation import BASELINE, evaluate


class Command(BaseCommand):
    help = "Evaluate the recommendation strategies against a most-popular baseline."

    def add_arguments(self, parser):
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--test-fraction", type=float, default=0.2)
        parser.add_argument("--sample", type=int, default=5000, help="learners evaluated")
        parser.add_argument(
            "--synthetic",
            type=int,
            default=0,
            metavar="LEARNERS",
            help="first load a synthetic population of this many learners",
        )

    def handle(self, *args, k, test_fraction, sample, synthetic, **options):
        if not 1 <= k <= 50:
            raise CommandError("--k must be from 1 to 50.")
        if not 0 < test_fraction < 1:
            raise CommandError("--test-fraction must be between 0 and 1.")
        if synthetic:
            if LearnerInteraction.objects.exists():
                raise CommandError("--synthetic loads into a database without interactions.")
            from lessons.recommendations.synthetic import population_create

            with transaction.atomic():
                population_create(learners=synthetic, topics=24, cohorts=4)
        scores = evaluate(k=k, test_fraction=test_fraction, sample=sample)
        if not scores:
            self.stdout.write(
                "Not enough interactions to evaluate (none on both sides of the cut)."
            )
            return
        for score in scores.values():
            self.stdout.write(score.line(k))
        hybrid, baseline = scores["hybrid"].ndcg, scores[BASELINE].ndcg
        verdict = "beats" if hybrid > baseline else "does not beat"
        self.stdout.write(
            f"hybrid {verdict} {BASELINE} on NDCG@{k} ({hybrid:.4f} vs {baseline:.4f})"
        )
