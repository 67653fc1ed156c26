from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html_join
from django_fsm.admin import FSMAdminMixin

from core.admin import ReadOnlyAdmin as BaseReadOnlyAdmin
from delivery.errors import DeliveryError
from delivery.models import (
    ConsentRecord,
    DeliveryAttempt,
    DeliveryTask,
    InboundRequest,
    LearnerDeliveryState,
    Notification,
    SinkMessage,
    TaskState,
)
from delivery.reminders import learner_resume, reminder_plan
from delivery.selectors import provider_breaker_states
from delivery.services import consent_change, task_requeue
from learners.models import Channel


class ReadOnlyAdmin(BaseReadOnlyAdmin):
    deletable = False


@admin.register(SinkMessage)
class SinkMessageAdmin(admin.ModelAdmin):
    """What the local sink 'delivered': the embedded mode's outbox, readable by staff."""

    list_display = ("created_at", "channel", "address", "subject", "preview")
    list_filter = ("channel", ("created_at", admin.DateFieldListFilter))
    search_fields = ("address", "subject", "text")
    date_hierarchy = "created_at"
    readonly_fields = ("channel", "address", "subject", "text_block", "created_at", "payload")
    exclude = ("text", "html")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="message")
    def preview(self, obj):
        return obj.text[:90] + ("…" if len(obj.text) > 90 else "")

    @admin.display(description="text")
    def text_block(self, obj):
        return format_html_join("", "<p>{}</p>", ((line,) for line in obj.text.split("\n") if line))


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = (
        "number",
        "channel",
        "address",
        "status",
        "error_category",
        "error_reason",
        "error_message",
        "provider_message_id",
        "latency_ms",
        "retry_count",
        "created_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DeliveryTask)
class DeliveryTaskAdmin(FSMAdminMixin, admin.ModelAdmin):
    """Delivery tasks: state machine buttons (Requeue, Cancel) and read-only attempts."""

    fsm_fields = ["state"]
    list_display = (
        "id",
        "kind",
        "learner",
        "local_date",
        "state",
        "channel",
        "retry_count",
        "next_attempt_at",
        "error_category",
        "possible_duplicate",
    )
    list_filter = (
        "state",
        "kind",
        "channel",
        "error_category",
        "possible_duplicate",
        ("reconciled_at", admin.EmptyFieldListFilter),
        "local_date",
    )
    search_fields = (
        "learner__employee_id",
        "learner__email",
        "learner__last_name",
        "provider_message_id",
        "address",
    )
    date_hierarchy = "created_at"
    list_select_related = ("learner",)
    readonly_fields = (
        "learner",
        "kind",
        "state",
        "local_date",
        "microlesson",
        "parent",
        "sequence",
        "channel",
        "address",
        "channels_tried",
        "retry_count",
        "next_attempt_at",
        "provider_message_id",
        "accepted_at",
        "delivered_at",
        "failed_at",
        "last_error",
        "error_category",
        "answer_link_used_at",
        "possible_duplicate",
        "reconciled_at",
        "render_context",
        "created_at",
        "updated_at",
    )
    inlines = [DeliveryAttemptInline]
    actions = ["requeue_dead_letters"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def response_change(self, request, obj):
        # Requeue through the service (fresh retries, channels reset), not the bare transition.
        if request.POST.get(self.fsm_post_param) == "requeue":
            try:
                task_requeue(task=obj, acting_user=request.user)
                self.message_user(request, f"Task {obj.pk} requeued.", messages.SUCCESS)
            except DeliveryError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    @admin.action(description="Requeue selected dead letters")
    def requeue_dead_letters(self, request, queryset):
        done = 0
        for task in queryset.filter(state__in=[TaskState.DEAD_LETTERED, TaskState.FAILED]):
            try:
                task_requeue(task=task, acting_user=request.user)
                done += 1
            except DeliveryError as exc:
                self.message_user(request, exc.message, messages.WARNING)
        self.message_user(request, f"Requeued {done} task(s).", messages.SUCCESS)

    def get_urls(self):
        return [
            path(
                "reminder-preview/",
                self.admin_site.admin_view(self.reminder_preview_view),
                name="delivery_deliverytask_reminder_preview",
            ),
            path(
                "breakers/",
                self.admin_site.admin_view(self.breakers_view),
                name="delivery_deliverytask_breakers",
            ),
            *super().get_urls(),
        ]

    def breakers_view(self, request):
        """Read-only: each provider breaker's state, its window and when it half-opens."""
        if not request.user.has_perm("delivery.view_delivery_health"):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Provider circuit breakers",
            "breakers": provider_breaker_states(),
            "policy": {
                "failure_rate": round(settings.DELIVERY_BREAKER_FAILURE_RATE * 100),
                "minimum_calls": settings.DELIVERY_BREAKER_MINIMUM_CALLS,
                "window": settings.DELIVERY_BREAKER_WINDOW_SECONDS,
                "reset": settings.DELIVERY_BREAKER_RESET_SECONDS,
            },
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/delivery/breakers.html", context)

    def reminder_preview_view(self, request):
        """Staff preview: who the reminder job would remind or pause right now."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Reminder preview",
            "actions_planned": reminder_plan(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/delivery/reminder_preview.html", context)


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = (
        "task",
        "number",
        "channel",
        "status",
        "error_category",
        "error_reason",
        "latency_ms",
        "created_at",
    )
    list_filter = ("status", "channel", "error_category", "error_reason")
    search_fields = ("provider_message_id", "address", "error_message")
    date_hierarchy = "created_at"


class StaffConsentForm(forms.ModelForm):
    channel = forms.ChoiceField(choices=Channel.choices)

    class Meta:
        model = ConsentRecord
        fields = ["learner", "channel", "action", "message"]


@admin.register(ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):
    """The consent history. Staff record an opt-out/opt-in with "Add": it changes the
    learner's channel flag through the service and is kept as a staff consent record."""

    list_display = ("created_at", "learner", "channel", "action", "method", "message")
    list_filter = ("channel", "action", "method")
    search_fields = ("learner__employee_id", "learner__email", "message")
    date_hierarchy = "created_at"
    raw_id_fields = ("learner",)
    form = StaffConsentForm

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        record = consent_change(
            learner=form.cleaned_data["learner"],
            channel=form.cleaned_data["channel"],
            opted_out=form.cleaned_data["action"] == ConsentRecord.Action.OPT_OUT,
            method=ConsentRecord.Method.STAFF,
            message=form.cleaned_data.get("message", ""),
            acting_user=request.user,
        )
        obj.pk = record.pk


@admin.register(InboundRequest)
class InboundRequestAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "provider",
        "kind",
        "signature_ok",
        "outcome",
        "status_code",
        "learner",
    )
    list_filter = ("provider", "kind", "signature_ok", "outcome")
    search_fields = ("provider_request_id", "learner__employee_id")
    date_hierarchy = "created_at"


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "learner", "task", "job_run")
    list_filter = ("kind",)
    search_fields = ("learner__employee_id", "learner__email")
    date_hierarchy = "created_at"


@admin.register(LearnerDeliveryState)
class LearnerDeliveryStateAdmin(admin.ModelAdmin):
    list_display = ("learner", "paused_at", "paused_reason", "resumed_at")
    list_filter = (("paused_at", admin.EmptyFieldListFilter),)
    search_fields = ("learner__employee_id", "learner__email")
    readonly_fields = ("learner", "paused_at", "paused_reason", "resumed_at", "updated_at")
    actions = ["resume_learners"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Resume deliveries to the selected learners")
    def resume_learners(self, request, queryset):
        resumed = sum(
            learner_resume(learner=state.learner, how=f"staff: {request.user}")
            for state in queryset.select_related("learner")
        )
        self.message_user(request, f"Resumed {resumed} learner(s).", messages.SUCCESS)
