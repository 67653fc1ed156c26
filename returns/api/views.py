"""
Returns API: customers open, check, follow and cancel their own returns; staff with the
`returns.process_returnrequest` permission approve, reject, receive, complete and label.
Views validate input, call one service method, and serialise; a customer never sees
another customer's order or return (404, not 403).

"Their own" means the customers the signed-in user was verified to act for: they ask for
a one-time link with an order number and its email (access/request/, always 202), and
opening it (access/confirm/) records the access. A username never names a customer.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from decimal import Decimal

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from core.api.pagination import DefaultPagination
from core.api.throttling import ScopedRateThrottle
from returns.api.serializers import (
    MONEY,
    ReasonField,
    RefundMethodField,
    ReturnOutputSerializer,
)
from returns.models import ReturnItem, ReturnRequest
from returns.selectors import is_returns_staff, return_request_get, return_request_list
from returns.services import ReturnsService
from returns.services.customers import customer_access_confirm, customer_access_link_request


class IsReturnsStaff(BasePermission):
    message = "Only returns staff can do this."

    def has_permission(self, request, view) -> bool:
        return is_returns_staff(request.user)


def _get_return(request, rma_number: str) -> ReturnRequest:
    return_request = return_request_get(rma_number=rma_number, user=request.user)
    if return_request is None:
        raise Http404
    return return_request


def _output(request, return_request: ReturnRequest) -> dict:
    fresh = (
        ReturnRequest.objects.select_related("order")
        .prefetch_related("items__line")
        .get(pk=return_request.pk)
    )
    return ReturnOutputSerializer(fresh, context={"request": request}).data


def _plain(value):
    """Result dataclasses as JSON: money as strings (never floats), times in ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _jsonable(result) -> dict:
    return _plain(asdict(result))


ACCESS_REQUESTED = {
    "detail": "If the order number and email match an order, a one-time link is on its way "
    "to that address."
}


class CustomerAccessRequestApi(APIView):
    """Ask for a link to follow an order's returns; the same 202 whatever exists.
    Throttled per user (THROTTLE_CUSTOMER_ACCESS), as each request may send an email."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [*api_settings.DEFAULT_THROTTLE_CLASSES, ScopedRateThrottle]
    throttle_scope = "customer_access"

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CustomerAccessRequestInput"

        order_id = serializers.CharField(max_length=64)
        email = serializers.EmailField(max_length=254)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CustomerAccessRequestOutput"

        detail = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={202: OutputSerializer})
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer_access_link_request(**serializer.validated_data)
        return Response(ACCESS_REQUESTED, status=status.HTTP_202_ACCEPTED)


class CustomerAccessConfirmApi(APIView):
    """Open the emailed link: the signed-in user may follow that customer's returns."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CustomerAccessConfirmInput"

        token = serializers.CharField(max_length=500)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CustomerAccessConfirmOutput"

        customer_id = serializers.CharField()
        verified_at = serializers.DateTimeField()
        method = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer})
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        access = customer_access_confirm(
            token=serializer.validated_data["token"], user=request.user
        )
        return Response(
            self.OutputSerializer(
                {
                    "customer_id": access.customer.external_id,
                    "verified_at": access.verified_at,
                    "method": access.method,
                }
            ).data
        )


class ReturnListCreateApi(APIView):
    permission_classes = [IsAuthenticated]
    pagination_class = DefaultPagination  # the list is paginated: the schema says so too

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReturnListCreateInput"

        class ItemSerializer(serializers.Serializer):
            class Meta:
                ref_name = "ReturnInitiateItem"

            line_item_id = serializers.CharField(max_length=64)
            quantity = serializers.IntegerField(min_value=1, max_value=10_000)
            condition = serializers.ChoiceField(
                choices=ReturnItem.ExpectedCondition.choices, default="new"
            )

        order_id = serializers.CharField(max_length=64)
        items = ItemSerializer(many=True, allow_empty=False)
        reason = ReasonField()
        description = serializers.CharField(
            required=False, allow_blank=True, default="", max_length=5000
        )
        images = serializers.ListField(
            child=serializers.URLField(max_length=500), required=False, default=list, max_length=10
        )

    @extend_schema(responses=ReturnOutputSerializer(many=True))
    def get(self, request):
        returns = return_request_list(user=request.user)
        if status_filter := request.query_params.get("status"):
            returns = returns.filter(status=status_filter)
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(returns, request, view=self)
        data = ReturnOutputSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @extend_schema(request=InputSerializer, responses={201: ReturnOutputSerializer})
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = ReturnsService().initiate(**serializer.validated_data, acting_user=request.user)
        return Response(
            _output(request, ReturnRequest(pk=created.id)), status=status.HTTP_201_CREATED
        )


class ReturnEligibilityApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, order_id: str):
        result = ReturnsService().check_eligibility(order_id=order_id, acting_user=request.user)
        return Response(_jsonable(result))


class ReturnDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ReturnOutputSerializer)
    def get(self, request, rma_number: str):
        return Response(_output(request, _get_return(request, rma_number)))


class ReturnCancelApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReturnCancelInput"

        reason = serializers.CharField(
            required=False, allow_blank=True, default="", max_length=2000
        )

    @extend_schema(request=InputSerializer, responses=ReturnOutputSerializer)
    def post(self, request, rma_number: str):
        return_request = _get_return(request, rma_number)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ReturnsService().cancel(
            return_id=return_request.pk, acting_user=request.user, **serializer.validated_data
        )
        return Response(_output(request, return_request))


class ReturnApproveApi(APIView):
    permission_classes = [IsAuthenticated, IsReturnsStaff]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReturnApproveInput"

        refund_method = RefundMethodField()
        refund_amount = serializers.DecimalField(
            **MONEY, required=False, allow_null=True, default=None
        )
        restocking_fee = serializers.DecimalField(
            **MONEY, required=False, allow_null=True, default=None
        )
        notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)

    @extend_schema(request=InputSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, rma_number: str):
        return_request = _get_return(request, rma_number)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = ReturnsService().approve(
            return_id=return_request.pk, approver=request.user, **serializer.validated_data
        )
        return Response({"approval": _jsonable(result), "return": _output(request, return_request)})


class ReturnRejectApi(APIView):
    permission_classes = [IsAuthenticated, IsReturnsStaff]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReturnRejectInput"

        reason = serializers.CharField(max_length=2000)

    @extend_schema(request=InputSerializer, responses=ReturnOutputSerializer)
    def post(self, request, rma_number: str):
        return_request = _get_return(request, rma_number)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ReturnsService().reject(
            return_id=return_request.pk, rejector=request.user, **serializer.validated_data
        )
        return Response(_output(request, return_request))


class ReturnReceiveApi(APIView):
    permission_classes = [IsAuthenticated, IsReturnsStaff]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReturnReceiveInput"

        class ItemSerializer(serializers.Serializer):
            class Meta:
                ref_name = "ReturnReceiptItem"

            line_item_id = serializers.CharField(max_length=64)
            quantity_received = serializers.IntegerField(min_value=0, max_value=10_000)
            actual_condition = serializers.ChoiceField(choices=ReturnItem.ActualCondition.choices)
            notes = serializers.CharField(
                required=False, allow_blank=True, default="", max_length=2000
            )

        items_received = ItemSerializer(many=True, allow_empty=False)

    @extend_schema(request=InputSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, rma_number: str):
        return_request = _get_return(request, rma_number)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = ReturnsService().receive_items(
            return_id=return_request.pk, receiver=request.user, **serializer.validated_data
        )
        return Response({"receipt": _jsonable(result), "return": _output(request, return_request)})


class ReturnCompleteApi(APIView):
    permission_classes = [IsAuthenticated, IsReturnsStaff]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReturnCompleteInput"

        final_refund_amount = serializers.DecimalField(
            **MONEY, required=False, allow_null=True, default=None
        )

    @extend_schema(request=InputSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, rma_number: str):
        return_request = _get_return(request, rma_number)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = ReturnsService().complete(
            return_id=return_request.pk, acting_user=request.user, **serializer.validated_data
        )
        return Response(
            {"completion": _jsonable(result), "return": _output(request, return_request)}
        )


class ReturnLabelApi(APIView):
    """POST (staff) makes the label; GET downloads the PDF (staff or the return's customer)."""

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsAuthenticated(), IsReturnsStaff()]
        return [IsAuthenticated()]

    @extend_schema(request=None, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, rma_number: str):
        return_request = _get_return(request, rma_number)
        label = ReturnsService().generate_shipping_label(
            return_id=return_request.pk, acting_user=request.user
        )
        return Response(_jsonable(label), status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request, rma_number: str):
        return_request = _get_return(request, rma_number)
        if not return_request.shipping_label:
            raise Http404
        return FileResponse(
            return_request.shipping_label.open("rb"),
            content_type="application/pdf",
            filename=f"{return_request.rma_number}.pdf",
        )
