"""Run the streaming ETL consumer in a loop (a dedicated process beside the worker)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from analytics import etl


class Command(BaseCommand):
    help = "Consume the xAPI ETL stream until interrupted (ETL_MODE=streaming)."

    def add_arguments(self, parser):
        parser.add_argument("--consumer", help="consumer name (default: host-pid)")
        parser.add_argument("--block-ms", type=int, default=2000)
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args, consumer=None, block_ms=2000, once=False, **options):
        consumer = consumer or etl.consumer_name()
        while True:
            counts = etl.consume(consumer=consumer, block_ms=block_ms)
            if options["verbosity"] > 1 or once:
                self.stdout.write(f"{consumer}: {counts}")
            if once:
                return
