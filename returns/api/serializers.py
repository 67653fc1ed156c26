"""Serializers shared by the returns API, the order webhook and `import_orders`."""

from rest_framework import serializers

from core.money import MINOR_UNITS
from returns.models import RefundMethod, ReturnItem, ReturnReason, ReturnRequest

MONEY = {"max_digits": 12, "decimal_places": 2, "min_value": 0}


class OrderLineInputSerializer(serializers.Serializer):
    line_item_id = serializers.CharField(max_length=64)
    product_id = serializers.CharField(max_length=64)
    sku = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    category = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    quantity = serializers.IntegerField(min_value=1)
    unit_price = serializers.DecimalField(**MONEY)
    tax_amount = serializers.DecimalField(**MONEY, required=False, default="0.00")


class OrderInputSerializer(serializers.Serializer):
    """The `data` of an order.completed event (and one order of an import)."""

    order_id = serializers.CharField(max_length=64)
    customer_id = serializers.CharField(max_length=64)
    customer_email = serializers.EmailField(required=False, allow_blank=True, default="")
    customer_name = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    currency = serializers.CharField(max_length=3, default="USD")
    shipping_amount = serializers.DecimalField(**MONEY, required=False, default="0.00")
    payment_reference = serializers.CharField(
        max_length=128, required=False, allow_blank=True, default=""
    )
    placed_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    delivered_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    lines = OrderLineInputSerializer(many=True, allow_empty=False)

    def validate_currency(self, value: str) -> str:
        value = value.upper()
        if value not in MINOR_UNITS:
            raise serializers.ValidationError("Unknown currency.")
        return value

    def validate_lines(self, lines):
        ids = [line["line_item_id"] for line in lines]
        if len(ids) != len(set(ids)):
            raise serializers.ValidationError("Line item ids must be unique within an order.")
        return lines


class ShipmentDeliveredSerializer(serializers.Serializer):
    order_id = serializers.CharField(max_length=64)
    delivered_at = serializers.DateTimeField()


class ReturnItemOutputSerializer(serializers.ModelSerializer):
    line_item_id = serializers.CharField(source="line.external_id")
    name = serializers.CharField(source="line.name")

    class Meta:
        model = ReturnItem
        fields = [
            "line_item_id",
            "product_id",
            "name",
            "quantity_requested",
            "quantity_received",
            "expected_condition",
            "actual_condition",
            "unit_refund_amount",
        ]


class ReturnOutputSerializer(serializers.ModelSerializer):
    order_id = serializers.CharField(source="order.external_id")
    items = ReturnItemOutputSerializer(many=True)
    label_url = serializers.SerializerMethodField()

    class Meta:
        model = ReturnRequest
        fields = [
            "id",
            "rma_number",
            "order_id",
            "status",
            "reason",
            "description",
            "returnless",
            "currency",
            "refund_method",
            "estimated_refund_amount",
            "store_credit_bonus_amount",
            "actual_refund_amount",
            "refund_state",
            "carrier",
            "tracking_number",
            "label_url",
            "rejection_reason",
            "items",
            "created_at",
            "approved_at",
            "received_at",
            "completed_at",
            "cancelled_at",
        ]

    def get_label_url(self, obj) -> str:
        if not obj.tracking_number:
            return ""
        request = self.context.get("request")
        path = f"/api/v1/returns/{obj.rma_number}/label/"
        return request.build_absolute_uri(path) if request else path


class ReasonField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=ReturnReason.choices, **kwargs)


class RefundMethodField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=RefundMethod.choices, **kwargs)
