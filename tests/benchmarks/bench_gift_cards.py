"""
Benchmark: gift card redemptions per second on PostgreSQL, GiftCardService against the
equivalent raw SQL transaction (SELECT … FOR UPDATE, UPDATE, INSERT over psycopg).

Eight threads redeem 0.01 at a time, (a) each from a random card among 10,000 and (b) all
from one hot card. Each workload runs as >= 5 alternating (raw SQL, service) pairs in the
same process; the ratio is the median of the per-pair ratios. Prints:

    gift_cards_cards: 10000 cards
    gift_cards_raw_sql_10k_cards: <n> redemptions/s
    gift_cards_service_10k_cards: <n> redemptions/s
    gift_cards_raw_sql_hot_card: <n> redemptions/s
    gift_cards_service_hot_card: <n> redemptions/s
    gift_cards_hot_card_ratio: <x>
    ratio: <x>        (service / raw SQL over 10,000 cards; target >= 0.40)

The service side does everything a real redemption does: code parsing and HMAC lookup,
the idempotency check, the ledger row and the outbox event with its publisher kick.
Runs against a throwaway database (created and dropped here). BENCH_PAIRS and
BENCH_OPS_PER_THREAD shorten or lengthen it.
"""

import os
import random
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

THREADS = 8
CARDS = 10_000
PAIRS = max(int(os.environ.get("BENCH_PAIRS", "5")), 5)
OPS_PER_THREAD = int(os.environ.get("BENCH_OPS_PER_THREAD", "60"))

RAW_SELECT = (
    "SELECT id, current_balance, status, expires_at > now() FROM gift_cards_giftcard "
    "WHERE code_hash = %s FOR UPDATE"
)
SPENDABLE = ("active", "partially_redeemed")
RAW_UPDATE = (
    "UPDATE gift_cards_giftcard SET current_balance = %s, status = %s, updated_at = now() "
    "WHERE id = %s"
)
RAW_INSERT = (
    "INSERT INTO gift_cards_giftcardtransaction (public_id, gift_card_id, transaction_type, "
    "amount, balance_before, balance_after, order_id, reference_id, idempotency_key, actor_id, "
    "metadata, created_at) VALUES (%s, %s, 'redemption', %s, %s, %s, %s, '', %s, '', '{}', now())"
)


def run_threads(work) -> float:
    """Run work(thread_index) in THREADS threads at once; return redemptions per second."""
    from django.db import connection

    barrier = threading.Barrier(THREADS + 1)
    errors = []

    def runner(index):
        try:
            barrier.wait()
            work(index)
        except Exception as exc:  # reported below, never swallowed
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return THREADS * OPS_PER_THREAD / elapsed


def main() -> None:
    import django
    from django.conf import settings

    django.setup()
    # Tables straight from the models: the benchmark measures redemptions, not migrations.
    settings.MIGRATION_MODULES = {app.split(".")[-1]: None for app in settings.INSTALLED_APPS}
    from django.db import connection

    connection.settings_dict["TEST"]["NAME"] = f"bench_gc_{connection.settings_dict['NAME']}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        figures = measure()
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
    for name, value, unit in figures:
        print(f"{name}: {value} {unit}".rstrip())


def measure() -> list[tuple[str, str, str]]:
    from decimal import Decimal

    import psycopg
    from django.db import connection

    from config.celery_app import app as celery_app
    from gift_cards import codes
    from gift_cards.services import GiftCardService

    service = GiftCardService()
    cards = service.bulk_create(count=CARDS, amount="50.00", prefix="BENCH")
    [hot] = service.bulk_create(count=1, amount="2000.00", prefix="HOT")
    card_codes = [c.code for c in cards]
    card_hashes = [codes.code_hash(codes.parse(code)) for code in card_codes]
    hot_hash = codes.code_hash(codes.parse(hot.code))
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    step = Decimal("0.01")
    run_id = iter(range(1_000_000))

    def raw_sql(pick_hash):
        def work(index):
            rng = random.Random(index)
            with psycopg.connect(**params) as conn:
                for i in range(OPS_PER_THREAD):
                    with conn.transaction():
                        card_id, balance, status, live = conn.execute(
                            RAW_SELECT, (pick_hash(rng),)
                        ).fetchone()
                        if not live or status not in SPENDABLE or balance < step:
                            raise RuntimeError("the benchmark card cannot pay")
                        after = balance - step
                        status = "partially_redeemed" if after else "fully_redeemed"
                        conn.execute(RAW_UPDATE, (after, status, card_id))
                        order = f"raw-{phase}-{index}-{i}"
                        conn.execute(
                            RAW_INSERT,
                            (uuid.uuid4(), card_id, -step, balance, after, order, f"o:{order}"),
                        )

        phase = next(run_id)
        return run_threads(work)

    def project(pick_code):
        def work(index):
            rng = random.Random(index)
            for i in range(OPS_PER_THREAD):
                service.redeem(
                    code=pick_code(rng), order_id=f"svc-{phase}-{index}-{i}", amount=step
                )

        phase = next(run_id)
        return run_threads(work)

    workloads = {
        "10k_cards": (
            lambda rng: rng.choice(card_hashes),
            lambda rng: rng.choice(card_codes),
        ),
        "hot_card": (lambda rng: hot_hash, lambda rng: hot.code),
    }
    results = {}
    for name, (pick_hash, pick_code) in workloads.items():
        raw_rates, service_rates = [], []
        for _ in range(PAIRS):
            raw_rates.append(raw_sql(pick_hash))
            service_rates.append(project(pick_code))
        ratios = [s / r for s, r in zip(service_rates, raw_rates, strict=True)]
        results[name] = (statistics.median(raw_rates), statistics.median(service_rates), ratios)
    # The publisher kicks went to the broker with no worker listening: drop them.
    celery_app.control.purge()

    figures = [("gift_cards_cards", f"{CARDS}", "cards")]
    for name, (raw_rate, service_rate, _ratios) in results.items():
        figures.append((f"gift_cards_raw_sql_{name}", f"{raw_rate:,.0f}", "redemptions/s"))
        figures.append((f"gift_cards_service_{name}", f"{service_rate:,.0f}", "redemptions/s"))
    figures.append(
        ("gift_cards_hot_card_ratio", f"{statistics.median(results['hot_card'][2]):.2f}", "")
    )
    figures.append(("ratio", f"{statistics.median(results['10k_cards'][2]):.2f}", ""))
    return figures


if __name__ == "__main__":
    main()
