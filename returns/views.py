"""The orders service's webhook (order.completed, shipment.delivered), HMAC-authenticated."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from returns.api.serializers import OrderInputSerializer, ShipmentDeliveredSerializer
from returns.errors import OrderNotFoundError
from returns.services.orders import ORDER_COMPLETED, SHIPMENT_DELIVERED, order_event_receive
from returns.webhooks import signature_is_valid

SERIALIZERS = {
    ORDER_COMPLETED: OrderInputSerializer,
    SHIPMENT_DELIVERED: ShipmentDeliveredSerializer,
}


def _invalid(errors: dict) -> JsonResponse:
    return JsonResponse(
        {"code": "invalid", "message": "The event has invalid fields.", "errors": errors},
        status=400,
    )


@csrf_exempt
@require_POST
def order_events_webhook(request):
    body = request.body
    if not signature_is_valid(
        secret=settings.RETURNS_ORDER_WEBHOOK_SECRET,
        timestamp=request.headers.get("X-Frontline-Timestamp", ""),
        body=body,
        signature=request.headers.get("X-Frontline-Signature", ""),
        tolerance=settings.RETURNS_ORDER_WEBHOOK_TOLERANCE_SECONDS,
    ):
        return JsonResponse(
            {"code": "bad_signature", "message": "Missing or invalid signature."}, status=401
        )
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _invalid({"body": ["Not JSON."]})
    if not isinstance(event, dict):
        return _invalid({"body": ["Expected a JSON object."]})
    event_id, topic, data = event.get("id"), event.get("type"), event.get("data")
    errors = {}
    if not isinstance(event_id, str) or not event_id or len(event_id) > 100:
        errors["id"] = ["A string event id (at most 100 characters) is required."]
    if topic not in SERIALIZERS:
        errors["type"] = [f"Must be one of {', '.join(SERIALIZERS)}."]
    if not isinstance(data, dict):
        errors["data"] = ["An object is required."]
    if errors:
        return _invalid(errors)
    serializer = SERIALIZERS[topic](data=data)
    if not serializer.is_valid():
        return _invalid({"data": serializer.errors})
    try:
        applied = order_event_receive(
            event_id=event_id, topic=topic, data=serializer.validated_data, raw=event
        )
    except OrderNotFoundError as exc:
        # Nothing recorded: the sender retries, by then order.completed has arrived.
        return JsonResponse(exc.as_dict(), status=409)
    return JsonResponse({"status": "applied" if applied else "duplicate", "id": event_id})
