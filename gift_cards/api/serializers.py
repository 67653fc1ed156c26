"""Serializers shared by several gift card views (each view nests its own Input/Output)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gift_cards.models import GiftCard
from gift_cards.money import supported_currencies

# A positive amount with at most 11 digits before the point and 3 after it (what
# max_digits=14, decimal_places=3 and "greater than zero" allow); the currency's own
# precision and maximum are rules of the service (422).
POSITIVE_AMOUNT = r"^(?=.*[1-9])[0-9]{1,11}(\.[0-9]{1,3})?$"


class ErrorSerializer(serializers.Serializer):
    class Meta:
        ref_name = "GiftCardError"

    code = serializers.CharField(help_text="Stable machine-readable error code.")
    message = serializers.CharField()
    details = serializers.DictField(required=False)
    errors = serializers.DictField(required=False, help_text="Field errors (code 'invalid').")


@extend_schema_field({"type": "string", "pattern": POSITIVE_AMOUNT, "example": "25.00"})
class AmountField(serializers.DecimalField):
    """A positive money amount given as a string ("25.00") or number; the currency's own
    precision is checked by the service (USD two decimals, JPY none, KWD three)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 3)
        kwargs.setdefault("coerce_to_string", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value <= 0:
            raise serializers.ValidationError("Must be greater than zero.")
        return value


@extend_schema_field({"type": "string", "enum": supported_currencies(), "example": "USD"})
class CurrencyField(serializers.CharField):
    """An ISO 4217 code the programme issues cards in (GIFT_CARD_CURRENCIES); the service
    normalises and checks it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 3)
        super().__init__(**kwargs)


class CodeField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 80)
        kwargs.setdefault("trim_whitespace", True)
        kwargs.setdefault("help_text", "Gift card code, e.g. GIFT-XXXX-XXXX-XXXX-XXXX.")
        super().__init__(**kwargs)


class GiftCardSerializer(serializers.Serializer):
    """A card as staff and API consumers see it after creation: never the code itself."""

    class Meta:
        ref_name = "GiftCard"

    id = serializers.IntegerField()
    masked_code = serializers.CharField()
    last_four = serializers.CharField()
    currency = serializers.CharField()
    original_amount = serializers.CharField(source="original")
    current_balance = serializers.CharField(source="balance")
    status = serializers.SerializerMethodField()
    purchaser_id = serializers.CharField()
    recipient_email = serializers.CharField()
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()

    def get_status(self, card: GiftCard) -> str:
        return card.effective_status()


def idempotency_key(request, data: dict) -> str | None:
    return data.get("idempotency_key") or request.headers.get("Idempotency-Key") or None
