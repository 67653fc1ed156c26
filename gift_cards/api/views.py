"""
Gift card API: one view per operation, each a thin door into GiftCardService.

Codes travel only in request bodies (never in URLs, which end up in logs). Endpoints that
take a code are throttled per client and per IP and count invalid codes towards a lockout.
"""

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from core.api.exceptions import rule_violation
from gift_cards.api.permissions import model_permission
from gift_cards.api.serializers import (
    AmountField,
    CodeField,
    CurrencyField,
    ErrorSerializer,
    GiftCardSerializer,
    idempotency_key,
)
from gift_cards.models import GiftCard
from gift_cards.selectors import gift_card_get_by_code
from gift_cards.services import GiftCardService
from gift_cards.throttling import CodeLockout, GiftCardCodeThrottle

ERRORS = {status: ErrorSerializer for status in (400, 403, 404, 409, 422)}
CODE_ERRORS = {**ERRORS, 429: ErrorSerializer}
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Repeat a request with the same key to get its first result back.",
)


class CodeGuardedApi(APIView):
    """Throttled per account and address; invalid codes count towards lockouts of the
    account, the card aimed at and the address."""

    throttle_classes = [*api_settings.DEFAULT_THROTTLE_CLASSES, GiftCardCodeThrottle]

    def guarded(self, request, func, *, codes=()):
        return CodeLockout(request, codes=codes).guard(func)


class GiftCardCreateApi(APIView):
    permission_classes = [model_permission("gift_cards.add_giftcard")]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GiftCardCreateInput"

        amount = AmountField()
        currency = CurrencyField(default="USD")
        purchaser_id = serializers.CharField(max_length=100)
        recipient_email = serializers.EmailField(required=False, allow_blank=True)
        message = serializers.CharField(required=False, allow_blank=True, max_length=1000)
        expires_at = serializers.DateTimeField(required=False)

    class OutputSerializer(GiftCardSerializer):
        class Meta:
            ref_name = "GiftCardCreateOutput"

        code = serializers.CharField(help_text="The full code, shown this once only.")

    @extend_schema(
        operation_id="gift_card_create",
        request=InputSerializer,
        responses={201: OutputSerializer, **ERRORS},
        summary="Issue a gift card (the code is returned once)",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        card = GiftCardService().create(**data, acting_user_id=f"user:{request.user.pk}")
        return Response(self.OutputSerializer(card).data, status=status.HTTP_201_CREATED)


class GiftCardRedeemApi(CodeGuardedApi):
    permission_classes = [model_permission("gift_cards.redeem_giftcard")]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GiftCardRedeemInput"

        code = CodeField()
        order_id = serializers.CharField(max_length=100)
        amount = AmountField(required=False, help_text="Default: the whole balance.")
        idempotency_key = serializers.CharField(required=False, max_length=200)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GiftCardRedeemOutput"

        redemption_id = serializers.CharField()
        redeemed_amount = serializers.CharField()
        remaining_balance = serializers.CharField()
        currency = serializers.CharField()
        order_id = serializers.CharField()
        replayed = serializers.BooleanField()

    @extend_schema(
        operation_id="gift_card_redeem",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: OutputSerializer, 200: OutputSerializer, **CODE_ERRORS},
        summary="Redeem a gift card against an order (201; 200 when replayed)",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = self.guarded(
            request,
            lambda: GiftCardService().redeem(
                code=data["code"],
                order_id=data["order_id"],
                amount=data.get("amount"),
                idempotency_key=idempotency_key(request, data),
            ),
            codes=[data["code"]],
        )
        return Response(
            self.OutputSerializer(result).data,
            status=status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED,
        )


class GiftCardBalanceApi(CodeGuardedApi):
    permission_classes = [model_permission("gift_cards.check_balance_giftcard")]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GiftCardBalanceInput"

        code = CodeField()

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GiftCardBalanceOutput"

        code = serializers.CharField(help_text="Masked: only the last four characters.")
        original_amount = serializers.CharField()
        current_balance = serializers.CharField()
        currency = serializers.CharField()
        status = serializers.CharField()
        expires_at = serializers.DateTimeField()

    @extend_schema(
        operation_id="gift_card_balance",
        request=InputSerializer,
        responses={200: OutputSerializer, **CODE_ERRORS},
        summary="Check a gift card's balance and status",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        code = serializer.validated_data["code"]
        result = self.guarded(
            request, lambda: GiftCardService().check_balance(code=code), codes=[code]
        )
        return Response(self.OutputSerializer(result).data)


class GiftCardRefundApi(APIView):
    permission_classes = [model_permission("gift_cards.refund_giftcard")]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GiftCardRefundInput"

        redemption_id = serializers.UUIDField()
        amount = AmountField(required=False, help_text="Default: all not yet refunded.")
        idempotency_key = serializers.CharField(required=False, max_length=200)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GiftCardRefundOutput"

        refund_id = serializers.CharField()
        redemption_id = serializers.CharField()
        refunded_amount = serializers.CharField()
        new_balance = serializers.CharField()
        currency = serializers.CharField()
        replayed = serializers.BooleanField()

    @extend_schema(
        operation_id="gift_card_refund",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: OutputSerializer, 200: OutputSerializer, **ERRORS},
        summary="Refund (part of) a redemption back to its card",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = GiftCardService().refund_to_card(
            redemption_id=str(data["redemption_id"]),
            amount=data.get("amount"),
            idempotency_key=idempotency_key(request, data),
        )
        return Response(
            self.OutputSerializer(result).data,
            status=status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED,
        )


class GiftCardTransferApi(CodeGuardedApi):
    permission_classes = [model_permission("gift_cards.transfer_giftcard")]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GiftCardTransferInput"

        from_code = CodeField()
        to_code = CodeField()
        amount = AmountField()
        idempotency_key = serializers.CharField(required=False, max_length=200)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GiftCardTransferOutput"

        transfer_id = serializers.CharField()
        amount = serializers.CharField()
        from_balance = serializers.CharField()
        to_balance = serializers.CharField()
        currency = serializers.CharField()
        replayed = serializers.BooleanField()

    @extend_schema(
        operation_id="gift_card_transfer",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: OutputSerializer, 200: OutputSerializer, **CODE_ERRORS},
        summary="Move balance from one card to another of the same currency",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = self.guarded(
            request,
            lambda: GiftCardService().transfer(
                from_code=data["from_code"],
                to_code=data["to_code"],
                amount=data["amount"],
                idempotency_key=idempotency_key(request, data),
            ),
            codes=[data["from_code"], data["to_code"]],
        )
        return Response(
            self.OutputSerializer(result).data,
            status=status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED,
        )


class GiftCardVoidApi(APIView):
    permission_classes = [model_permission("gift_cards.void_giftcard", staff=True)]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GiftCardVoidInput"

        gift_card_id = serializers.IntegerField(required=False, min_value=1)
        code = CodeField(required=False)
        reason = serializers.CharField(max_length=1000)

        def validate(self, attrs):
            if ("gift_card_id" in attrs) == ("code" in attrs):
                raise rule_violation("Give exactly one of gift_card_id or code.")
            return attrs

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GiftCardVoidOutput"

        voided = serializers.BooleanField(help_text="False when the card was already voided.")
        gift_card = GiftCardSerializer()

    @extend_schema(
        operation_id="gift_card_void",
        request=InputSerializer,
        responses={200: OutputSerializer, **ERRORS},
        summary="Void a gift card (staff)",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        service = GiftCardService()
        actor = f"user:{request.user.pk}"
        if "code" in data:
            voided = service.void(code=data["code"], reason=data["reason"], admin_id=actor)
            card = gift_card_get_by_code(code=data["code"])
        else:
            voided = service.void_card(
                gift_card_id=data["gift_card_id"], reason=data["reason"], admin_id=actor
            )
            card = GiftCard.objects.get(pk=data["gift_card_id"])
        return Response(self.OutputSerializer({"voided": voided, "gift_card": card}).data)


class GiftCardBulkCreateApi(APIView):
    permission_classes = [model_permission("gift_cards.bulk_create_giftcard", staff=True)]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GiftCardBulkCreateInput"

        count = serializers.IntegerField(min_value=1, max_value=settings.GIFT_CARD_BULK_MAX)
        amount = AmountField()
        currency = CurrencyField(default="USD")
        prefix = serializers.RegexField(r"^[A-Za-z0-9]{1,10}$", default="PROMO")
        expires_at = serializers.DateTimeField(required=False)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GiftCardBulkCreateOutput"

        count = serializers.IntegerField()
        cards = serializers.ListField(
            child=serializers.DictField(), help_text="id, code (shown this once) and last four."
        )

    @extend_schema(
        operation_id="gift_card_bulk_create",
        request=InputSerializer,
        responses={201: OutputSerializer, **ERRORS},
        summary="Issue promotional cards in bulk (staff; codes returned once)",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        cards = GiftCardService().bulk_create(
            **serializer.validated_data, acting_user_id=f"user:{request.user.pk}"
        )
        body = {
            "count": len(cards),
            "cards": [{"id": c.pk, "code": c.code, "last_four": c.last_four} for c in cards],
        }
        return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)


class GiftCardDetailApi(APIView):
    permission_classes = [model_permission("gift_cards.view_giftcard", staff=True)]

    class OutputSerializer(GiftCardSerializer):
        class Meta:
            ref_name = "GiftCardDetailOutput"

        class TransactionSerializer(serializers.Serializer):
            class Meta:
                ref_name = "GiftCardLedgerRow"

            id = serializers.CharField(source="public_id")
            transaction_type = serializers.CharField()
            amount = serializers.CharField()
            balance_before = serializers.CharField()
            balance_after = serializers.CharField()
            order_id = serializers.CharField()
            reference_id = serializers.CharField()
            actor_id = serializers.CharField()
            created_at = serializers.DateTimeField()

        transactions = TransactionSerializer(many=True)

    @extend_schema(
        operation_id="gift_card_detail",
        responses={200: OutputSerializer, **ERRORS},
        summary="A card and its ledger (staff)",
    )
    def get(self, request, pk: int):
        card = get_object_or_404(GiftCard.objects.prefetch_related("transactions"), pk=pk)
        return Response(self.OutputSerializer(card).data)
