"""Writes to the orders mirror: order.completed / shipment.delivered events and backfills."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from returns.errors import OrderNotFoundError
from returns.models import Order, OrderEventReceipt, OrderLine
from returns.services.customers import customer_upsert

ORDER_COMPLETED = "order.completed"
SHIPMENT_DELIVERED = "shipment.delivered"


@transaction.atomic
def order_upsert(*, data: Mapping[str, Any]) -> Order:
    """Create or refresh an order and its lines from validated order data (idempotent)."""
    customer = customer_upsert(
        external_id=data["customer_id"],
        email=data.get("customer_email") or "",
        name=data.get("customer_name") or "",
    )
    order, _created = Order.objects.select_for_update().update_or_create(
        external_id=data["order_id"],
        defaults={
            "customer": customer,
            "customer_email": data.get("customer_email") or "",
            "currency": data["currency"],
            "shipping_amount": data["shipping_amount"],
            "payment_reference": data.get("payment_reference") or "",
            "placed_at": data.get("placed_at"),
            **({"delivered_at": data["delivered_at"]} if data.get("delivered_at") else {}),
        },
    )
    for line in data["lines"]:
        OrderLine.objects.update_or_create(
            order=order,
            external_id=line["line_item_id"],
            defaults={
                "product_id": line["product_id"],
                "sku": line.get("sku") or "",
                "name": line.get("name") or "",
                "category": line.get("category") or "",
                "quantity": line["quantity"],
                "unit_price_amount": line["unit_price"],
                "tax_amount": line.get("tax_amount") or 0,
            },
        )
    return order


@transaction.atomic
def order_record_delivery(*, order_id: str, delivered_at: datetime) -> Order:
    """The shipment arrived: the return window starts counting from `delivered_at`."""
    order = Order.objects.select_for_update().filter(external_id=order_id).first()
    if order is None:
        raise OrderNotFoundError(
            "The order is not known yet; send order.completed first.", order_id=order_id
        )
    order.delivered_at = delivered_at
    order.save(update_fields=["delivered_at", "updated_at"])
    return order


@transaction.atomic
def order_event_receive(
    *, event_id: str, topic: str, data: Mapping[str, Any], raw: Mapping[str, Any]
) -> bool:
    """Apply one order event once; False when the event id was already applied."""
    try:
        with transaction.atomic():
            OrderEventReceipt.objects.create(
                event_id=event_id,
                topic=topic,
                order_external_id=str(data.get("order_id", "")),
                payload=dict(raw),
            )
    except IntegrityError:
        return False
    if topic == ORDER_COMPLETED:
        order_upsert(data=data)
    elif topic == SHIPMENT_DELIVERED:
        order_record_delivery(order_id=data["order_id"], delivered_at=data["delivered_at"])
    return True
