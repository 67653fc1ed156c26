"""
Backfill the orders mirror from a CSV export, one row per line item:

    order_id,customer_id,customer_email,currency,shipping_amount,payment_reference,
    placed_at,delivered_at,line_item_id,product_id,sku,name,category,quantity,unit_price,
    tax_amount

Rows are grouped by order_id; an order is written only if all of its rows are valid (never
half an order), and every bad row is reported with its line number. Re-running is safe:
orders and lines are upserted by their ids.
"""

from __future__ import annotations

import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core.jobs import job_run
from returns.api.serializers import OrderInputSerializer
from returns.services import order_upsert

ORDER_FIELDS = [
    "order_id",
    "customer_id",
    "customer_email",
    "currency",
    "shipping_amount",
    "payment_reference",
    "placed_at",
    "delivered_at",
]
LINE_FIELDS = [
    "line_item_id",
    "product_id",
    "sku",
    "name",
    "category",
    "quantity",
    "unit_price",
    "tax_amount",
]


def _flatten(errors, prefix="") -> list[str]:
    if isinstance(errors, dict):
        return [m for key, value in errors.items() for m in _flatten(value, f"{prefix}{key}: ")]
    if isinstance(errors, list):
        return [m for value in errors for m in _flatten(value, prefix)]
    return [f"{prefix}{errors}"]


class Command(BaseCommand):
    help = "Import orders and their line items from a CSV file into the returns orders mirror."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")

    def handle(self, *args, file: Path, no_progress: bool = False, **options):
        if not file.exists():
            raise CommandError(f"{file} does not exist.")
        with file.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {
                "order_id",
                "customer_id",
                "line_item_id",
                "product_id",
                "quantity",
                "unit_price",
            } - set(reader.fieldnames or [])
            if missing:
                raise CommandError(f"Missing columns: {', '.join(sorted(missing))}.")
            orders: dict[str, list[tuple[int, dict]]] = {}
            for row in reader:
                orders.setdefault((row.get("order_id") or "").strip(), []).append(
                    (reader.line_num, row)
                )

        imported, bad_rows = 0, []
        with job_run("returns.import_orders") as run:
            for order_id, rows in tqdm(
                orders.items(),
                total=len(orders),
                unit="order",
                disable=no_progress,
                file=self.stderr,
            ):
                first = rows[0][1]
                data = {f: (first.get(f) or "").strip() for f in ORDER_FIELDS}
                for key in ("placed_at", "delivered_at"):
                    data[key] = data[key] or None
                for key in ("currency", "shipping_amount", "customer_email", "payment_reference"):
                    if not data[key]:
                        data.pop(key)
                data["lines"] = [
                    {
                        f: (row.get(f) or "").strip()
                        for f in LINE_FIELDS
                        if (row.get(f) or "").strip()
                    }
                    for _n, row in rows
                ]
                serializer = OrderInputSerializer(data=data)
                if not order_id or not serializer.is_valid():
                    errors = dict(serializer.errors) if order_id else {"order_id": ["required"]}
                    line_errors = errors.pop("lines", None)
                    # Per-line errors come keyed by the line's index: report them on its row.
                    if isinstance(line_errors, list) and all(
                        isinstance(e, dict) for e in line_errors
                    ):
                        line_errors = dict(enumerate(line_errors))
                    if isinstance(line_errors, dict) and all(
                        isinstance(k, int) for k in line_errors
                    ):
                        for index, error in line_errors.items():
                            if error:
                                line_num = rows[index][0]
                                bad_rows.append((line_num, order_id, "; ".join(_flatten(error))))
                    elif line_errors:
                        errors["lines"] = line_errors
                    for message in _flatten(errors):
                        bad_rows.append((rows[0][0], order_id, message))
                    continue
                order_upsert(data=serializer.validated_data)
                imported += 1
            run.set("orders_imported", imported)
            run.set("bad_rows", len(bad_rows))

        for line_num, order_id, message in sorted(bad_rows):
            self.stderr.write(f"line {line_num} (order {order_id or '?'}): {message}")
        summary = f"Imported {imported} orders; {len(bad_rows)} bad rows."
        self.stdout.write(
            self.style.SUCCESS(summary) if not bad_rows else self.style.WARNING(summary)
        )
