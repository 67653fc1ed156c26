"""Demo data for the returns desk: a few delivered orders and returns at different steps."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from returns.models import Order, ReturnRequest
from returns.services import ReturnsService, order_upsert

DEMO_ORDERS = [
    {
        "order_id": "DEMO-1001",
        "customer_id": "demo-customer",
        "customer_email": "demo.customer@example.com",
        "currency": "USD",
        "shipping_amount": Decimal("6.95"),
        "payment_reference": "pay_demo_1001",
        "lines": [
            {
                "line_item_id": "1001-1",
                "product_id": "shoe-42",
                "sku": "SH-42",
                "name": "Trail shoe",
                "category": "apparel",
                "quantity": 2,
                "unit_price": Decimal("59.99"),
                "tax_amount": Decimal("9.60"),
            },
            {
                "line_item_id": "1001-2",
                "product_id": "sock-3",
                "sku": "SK-3",
                "name": "Running socks",
                "category": "apparel",
                "quantity": 3,
                "unit_price": Decimal("3.99"),
                "tax_amount": Decimal("0.96"),
            },
        ],
    },
    {
        "order_id": "DEMO-1002",
        "customer_id": "demo-customer",
        "customer_email": "demo.customer@example.com",
        "currency": "USD",
        "shipping_amount": Decimal("0.00"),
        "payment_reference": "pay_demo_1002",
        "lines": [
            {
                "line_item_id": "1002-1",
                "product_id": "hp-7",
                "sku": "HP-7",
                "name": "Headphones",
                "category": "electronics",
                "quantity": 1,
                "unit_price": Decimal("129.00"),
                "tax_amount": Decimal("10.32"),
            },
            {
                "line_item_id": "1002-2",
                "product_id": "gc-50",
                "sku": "GC-50",
                "name": "Gift card",
                "category": "gift_cards",
                "quantity": 1,
                "unit_price": Decimal("50.00"),
                "tax_amount": Decimal("0.00"),
            },
        ],
    },
]


def seed(stdout=None) -> None:
    if Order.objects.filter(external_id="DEMO-1001").exists():
        if stdout:
            stdout.write("returns: demo data already present")
        return
    delivered = timezone.now() - timedelta(days=4)
    for data in DEMO_ORDERS:
        order_upsert(
            data={**data, "placed_at": delivered - timedelta(days=3), "delivered_at": delivered}
        )
    staff = get_user_model().objects.filter(is_superuser=True).first()
    service = ReturnsService()
    pending = service.initiate(
        order_id="DEMO-1001",
        items=[{"line_item_id": "1001-1", "quantity": 1, "condition": "opened"}],
        reason="no_longer_needed",
        description="Too small.",
    )
    keep_it = service.initiate(
        order_id="DEMO-1001",
        items=[{"line_item_id": "1001-2", "quantity": 1, "condition": "new"}],
        reason="wrong_item",
    )
    service.approve(return_id=keep_it.id, refund_method="store_credit", approver=staff)
    headphones = service.initiate(
        order_id="DEMO-1002",
        items=[{"line_item_id": "1002-1", "quantity": 1, "condition": "damaged"}],
        reason="defective",
    )
    service.approve(return_id=headphones.id, refund_method="original_payment", approver=staff)
    service.receive_items(
        return_id=headphones.id,
        items_received=[
            {"line_item_id": "1002-1", "quantity_received": 1, "actual_condition": "unsellable"}
        ],
        receiver=staff,
    )
    if stdout:
        stdout.write(
            f"returns: {Order.objects.count()} orders, {ReturnRequest.objects.count()} returns "
            f"(pending {pending.rma_number}, returnless {keep_it.rma_number}, "
            f"received {headphones.rma_number})"
        )
