"""Recompute every return's audit hash chain; exits non-zero if anything was tampered with."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from returns.audit import verify_return_chain
from returns.models import ReturnRequest


class Command(BaseCommand):
    help = "Verify the hash-chained audit log of every return (or of the given RMA numbers)."

    def add_arguments(self, parser):
        parser.add_argument("rma_numbers", nargs="*")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, rma_numbers=(), no_progress: bool = False, **options):
        returns = ReturnRequest.objects.order_by("id")
        if rma_numbers:
            returns = returns.filter(rma_number__in=[r.upper() for r in rma_numbers])
        problems = []
        for return_request in tqdm(
            returns.iterator(chunk_size=500),
            total=returns.count(),
            unit="return",
            disable=no_progress,
            file=self.stderr,
        ):
            problems.extend(verify_return_chain(return_request))
        for problem in problems:
            self.stderr.write(
                f"{problem.rma_number} (return {problem.return_id}) row {problem.sequence}: "
                f"{problem.problem}"
            )
        if problems:
            raise CommandError(f"Audit log tampering detected: {len(problems)} problem(s).")
        self.stdout.write(self.style.SUCCESS(f"Audit log intact for {returns.count()} returns."))
