"""Run the streaming ETL consumer in a loop (a dedicated process beside the worker).

The loop outlives Redis and PostgreSQL blips: a pass that fails on a lost connection is
logged ("reconnecting", with the attempt and the wait) and retried with backoff
(core.loops.run_forever); after a Redis restart the consumer group is created again and
whatever the stream lost is flattened by the minute sweep. SIGTERM/SIGINT end the loop
after the current pass.
"""

from __future__ import annotations

import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from analytics import etl
from core.loops import run_forever


class Command(BaseCommand):
    help = "Consume the xAPI ETL stream until interrupted (ETL_MODE=streaming)."

    def add_arguments(self, parser):
        parser.add_argument("--consumer", help="consumer name (default: host-pid)")
        parser.add_argument("--block-ms", type=int, default=2000)
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args, consumer=None, block_ms=2000, once=False, **options):
        consumer = consumer or etl.consumer_name()
        verbose = options["verbosity"] > 1

        def step() -> None:
            counts = etl.consume(consumer=consumer, block_ms=block_ms)
            if verbose or once:
                self.stdout.write(f"{consumer}: {counts}", ending="\n")
                self.stdout.flush()

        if once:
            step()
            return
        stopping = False

        def request_stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        self.stdout.write(f"{consumer}: consuming {settings.ANALYTICS_ETL_STREAM}")
        self.stdout.flush()
        run_forever(step, name="etl_consume", stop=lambda: stopping)
