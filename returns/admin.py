"""
Returns desk in the admin. State is read-only; the transition buttons (django-fsm-2's
FSMAdminMixin) and actions go through ReturnsService, so admin, API and jobs share one
path with its audit row, events and emails. The audit trail is an inline no one can edit.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django_fsm.admin import FSMAdminMixin

from core.admin import ReadOnlyInline
from core.errors import DomainError
from returns.models import (
    Customer,
    CustomerAccess,
    Order,
    OrderEventReceipt,
    OrderLine,
    RefundMethod,
    ReturnAuditLog,
    ReturnItem,
    ReturnRequest,
)
from returns.selectors import QUEUE_STEPS, is_returns_staff, return_request_queue
from returns.services import ReturnsService


class ReturnItemInline(ReadOnlyInline):
    model = ReturnItem
    fields = [
        "line",
        "product_id",
        "quantity_requested",
        "quantity_received",
        "expected_condition",
        "actual_condition",
        "restockable",
        "unit_refund_amount",
        "notes",
    ]
    readonly_fields = fields


class ReturnAuditLogInline(ReadOnlyInline):
    model = ReturnAuditLog
    fields = [
        "sequence",
        "created_at",
        "action",
        "actor_type",
        "actor_id",
        "previous_state",
        "new_state",
        "metadata",
    ]
    readonly_fields = fields
    ordering = ["sequence"]


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    BUCKETS = {"1d": (0, 1), "7d": (1, 7), "30d": (7, 30), "older": (30, None)}

    def lookups(self, request, model_admin):
        return [
            ("1d", "Under a day"),
            ("7d", "1 to 7 days"),
            ("30d", "7 to 30 days"),
            ("older", "Over 30 days"),
        ]

    def queryset(self, request, queryset):
        if self.value() not in self.BUCKETS:
            return queryset
        low, high = self.BUCKETS[self.value()]
        now = timezone.now()
        queryset = queryset.filter(created_at__lte=now - timedelta(days=low))
        if high is not None:
            queryset = queryset.filter(created_at__gt=now - timedelta(days=high))
        return queryset


class QueueFilter(admin.SimpleListFilter):
    title = "waiting on"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return list(QUEUE_STEPS.items())

    def queryset(self, request, queryset):
        if self.value() in QUEUE_STEPS:
            return queryset.filter(pk__in=return_request_queue(self.value()).values("pk"))
        return queryset


class ApproveForm(forms.Form):
    refund_method = forms.ChoiceField(choices=RefundMethod.choices)
    refund_amount = forms.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)
    restocking_fee = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False
    )
    notes = forms.CharField(widget=forms.Textarea, required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea)


class CompleteForm(forms.Form):
    final_refund_amount = forms.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text="Leave empty to refund what the policy and the items' condition give.",
    )


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, required=False)


@admin.register(ReturnRequest)
class ReturnRequestAdmin(FSMAdminMixin, admin.ModelAdmin):
    fsm_fields = ["status"]
    # Completion goes through a form too: its view runs outside the admin's change-form
    # transaction, so the payments call is not made while holding the return's row lock.
    fsm_forms = {
        "approve": ApproveForm,
        "reject": ReasonForm,
        "cancel": OptionalReasonForm,
        "complete": CompleteForm,
        "complete_returnless": CompleteForm,
    }
    change_list_template = "admin/returns/returnrequest/change_list.html"
    list_display = [
        "rma_number",
        "order",
        "customer",
        "status",
        "reason",
        "refund_method",
        "refund_state",
        "estimated_refund_amount",
        "actual_refund_amount",
        "returnless",
        "created_at",
    ]
    list_filter = [
        QueueFilter,
        "status",
        "reason",
        "refund_method",
        "refund_state",
        "returnless",
        AgeFilter,
    ]
    search_fields = [
        "rma_number",
        "tracking_number",
        "order__external_id",
        "customer__external_id",
    ]
    list_select_related = ["order", "customer"]
    date_hierarchy = "created_at"
    inlines = [ReturnItemInline, ReturnAuditLogInline]
    actions = ["approve_to_original_payment", "retry_refund"]
    readonly_fields = [
        "rma_number",
        "order",
        "customer",
        "status",
        "reason",
        "description",
        "images",
        "currency",
        "returnless",
        "refund_method",
        "estimated_refund_amount",
        "refund_override_amount",
        "restocking_fee_amount",
        "store_credit_bonus_amount",
        "actual_refund_amount",
        "refund_breakdown",
        "refund_state",
        "refund_attempts",
        "refund_started_at",
        "refund_last_error",
        "refund_transaction_id",
        "carrier",
        "tracking_number",
        "label_link",
        "approved_by",
        "approval_notes",
        "rejection_reason",
        "cancellation_reason",
        "approved_at",
        "shipped_at",
        "received_at",
        "completed_at",
        "rejected_at",
        "cancelled_at",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "rma_number",
                    "order",
                    "customer",
                    "status",
                    "reason",
                    "description",
                    "images",
                    "returnless",
                ]
            },
        ),
        (
            "Refund",
            {
                "fields": [
                    "refund_method",
                    "currency",
                    "estimated_refund_amount",
                    "refund_override_amount",
                    "restocking_fee_amount",
                    "store_credit_bonus_amount",
                    "actual_refund_amount",
                    "refund_state",
                    "refund_attempts",
                    "refund_started_at",
                    "refund_last_error",
                    "refund_transaction_id",
                    "refund_breakdown",
                ]
            },
        ),
        ("Shipping", {"fields": ["carrier", "tracking_number", "label_link"]}),
        (
            "Decisions",
            {
                "fields": [
                    "approved_by",
                    "approval_notes",
                    "rejection_reason",
                    "cancellation_reason",
                ]
            },
        ),
        (
            "Timeline",
            {
                "fields": [
                    "created_at",
                    "approved_at",
                    "shipped_at",
                    "received_at",
                    "completed_at",
                    "rejected_at",
                    "cancelled_at",
                    "updated_at",
                ]
            },
        ),
    ]

    def has_add_permission(self, request):
        return False  # returns are opened by customers through the API

    def has_delete_permission(self, request, obj=None):
        return False  # a return with an audit trail is kept

    @admin.display(description="label")
    def label_link(self, obj):
        if not obj.shipping_label:
            return "—"
        return format_html('<a href="{}">{}</a>', obj.shipping_label.url, obj.tracking_number)

    def get_urls(self):
        return [
            path(
                "queue/",
                self.admin_site.admin_view(self.queue_view),
                name="returns_returnrequest_queue",
            ),
            *super().get_urls(),
        ]

    def queue_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = reverse("admin:returns_returnrequest_changelist")
        steps = [
            {
                "key": key,
                "label": label,
                "count": return_request_queue(key).count(),
                "oldest": return_request_queue(key)
                .order_by("created_at")
                .values_list("created_at", flat=True)
                .first(),
                "url": f"{changelist}?queue={key}",
            }
            for key, label in QUEUE_STEPS.items()
        ]
        by_state = dict(
            ReturnRequest.objects.values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Returns queue",
            "opts": self.model._meta,
            "steps": steps,
            "by_state": [
                (label, by_state.get(value, 0)) for value, label in ReturnRequest.Status.choices
            ],
        }
        return TemplateResponse(request, "admin/returns/returnrequest/queue.html", context)

    # Transition buttons call the services, never the bare transition.
    def _apply_fsm_transition(self, *, obj, transition_name, request, kwargs=None) -> bool:
        if not is_returns_staff(request.user):
            self.message_user(
                request, "You need the permission to process returns.", messages.ERROR
            )
            return False
        service = ReturnsService()
        kwargs = dict(kwargs or {})
        try:
            if transition_name == "approve":
                service.approve(return_id=obj.pk, approver=request.user, **kwargs)
            elif transition_name == "reject":
                service.reject(return_id=obj.pk, rejector=request.user, reason=kwargs["reason"])
            elif transition_name == "cancel":
                service.cancel(
                    return_id=obj.pk, acting_user=request.user, reason=kwargs.get("reason", "")
                )
            elif transition_name == "ship":
                service.mark_shipped(return_id=obj.pk, acting_user=request.user)
            elif transition_name == "receive":
                service.receive_items(
                    return_id=obj.pk,
                    receiver=request.user,
                    items_received=[
                        {
                            "line_item_id": item.line.external_id,
                            "quantity_received": item.quantity_requested,
                            "actual_condition": ReturnItem.ActualCondition.SELLABLE,
                        }
                        for item in obj.items.select_related("line")
                    ],
                )
            elif transition_name == "inspect":
                service.inspect(return_id=obj.pk, inspector=request.user)
            elif transition_name in ("complete", "complete_returnless"):
                service.complete(
                    return_id=obj.pk,
                    acting_user=request.user,
                    final_refund_amount=kwargs.get("final_refund_amount"),
                )
            else:
                self.message_user(request, f"Unknown transition {transition_name}.", messages.ERROR)
                return False
        except DomainError as exc:
            self.message_user(request, f"{transition_name}: {exc.message}", messages.ERROR)
            return False
        self.message_user(request, f"{obj.rma_number}: {transition_name} done.", messages.SUCCESS)
        return True

    @admin.action(description="Approve (refund to original payment)")
    def approve_to_original_payment(self, request, queryset):
        self._bulk(
            request,
            queryset,
            lambda s, r: s.approve(
                return_id=r.pk, refund_method=RefundMethod.ORIGINAL_PAYMENT, approver=request.user
            ),
        )

    @admin.action(description="Retry refund")
    def retry_refund(self, request, queryset):
        self._bulk(
            request, queryset, lambda s, r: s.complete(return_id=r.pk, acting_user=request.user)
        )

    def _bulk(self, request, queryset, call):
        if not is_returns_staff(request.user):
            self.message_user(
                request, "You need the permission to process returns.", messages.ERROR
            )
            return
        service, done, failed = ReturnsService(), 0, []
        for return_request in queryset:
            try:
                call(service, return_request)
                done += 1
            except DomainError as exc:
                failed.append(f"{return_request.rma_number}: {exc.message}")
        if done:
            self.message_user(request, f"{done} return(s) done.", messages.SUCCESS)
        for failure in failed:
            self.message_user(request, failure, messages.ERROR)


@admin.register(ReturnAuditLog)
class ReturnAuditLogAdmin(admin.ModelAdmin):
    list_display = [
        "return_request",
        "sequence",
        "action",
        "actor_type",
        "actor_id",
        "previous_state",
        "new_state",
        "created_at",
    ]
    list_filter = ["action", "actor_type"]
    search_fields = ["return_request__rma_number", "actor_id"]
    readonly_fields = [f.name for f in ReturnAuditLog._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = [
        "external_id",
        "product_id",
        "sku",
        "name",
        "category",
        "quantity",
        "unit_price_amount",
        "tax_amount",
    ]
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "external_id",
        "customer",
        "currency",
        "shipping_amount",
        "placed_at",
        "delivered_at",
    ]
    list_filter = ["currency", ("delivered_at", admin.EmptyFieldListFilter)]
    search_fields = [
        "external_id",
        "customer__external_id",
        "customer_email",
        "payment_reference",
    ]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [OrderLineInline]

    def has_change_permission(self, request, obj=None):
        return False  # the mirror follows the orders service's events only


@admin.register(OrderEventReceipt)
class OrderEventReceiptAdmin(admin.ModelAdmin):
    list_display = ["event_id", "topic", "order_external_id", "received_at"]
    list_filter = ["topic"]
    search_fields = ["event_id", "order_external_id"]
    readonly_fields = ["event_id", "topic", "order_external_id", "payload", "received_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CustomerAccessInline(ReadOnlyInline):
    model = CustomerAccess
    fields = ["user", "method", "verified_at"]
    readonly_fields = fields


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    """Storefront customers follow the orders service; who acts for them is proven by a
    link emailed to an order's address, never granted here."""

    list_display = ["external_id", "email", "name", "created_at"]
    search_fields = ["external_id", "email", "name"]
    readonly_fields = ["external_id", "email", "name", "created_at", "updated_at"]
    inlines = [CustomerAccessInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
