"""
Admin of the learning record store: statements (read-only), the flattened table, client
credentials (issued through the service, secret shown once; revoke action), ETL state.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from analytics import selectors, services
from analytics.cors import normalize_origin
from analytics.models import (
    EtlCheckpoint,
    QueryRun,
    Statement,
    StatementFlat,
    XapiCredential,
    XapiDocument,
    XapiScope,
)
from analytics.models.engagement import (
    COUNT_FIELDS,
    CohortEngagementDay,
    EngagementMetric,
    LearnerEngagementDay,
)
from analytics.models.reports import (
    ReportDelivery,
    ReportDeliveryAttempt,
    ReportDeliveryState,
    ReportExecution,
    ReportSchedule,
    ReportTarget,
)
from analytics.reporting import all_reports
from analytics.schedules import cron as report_cron
from analytics.schedules import services as report_services
from analytics.schedules.errors import ReportScheduleError
from analytics.schedules.links import FILE_KINDS, file_path
from core.admin import ReadOnlyAdmin as BaseReadOnlyAdmin
from core.admin import ReadOnlyInline


class ReadOnlyAdmin(BaseReadOnlyAdmin):
    deletable = False


class StatementFlatInline(admin.StackedInline):
    model = StatementFlat
    can_delete = False
    extra = 0
    max_num = 0
    readonly_fields = [f.name for f in StatementFlat._meta.fields if f.name != "statement"]
    verbose_name_plural = "flattened row"

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Statement)
class StatementAdmin(ReadOnlyAdmin):
    list_display = ["id", "actor_key", "verb_id", "object_type", "object_id", "stored", "voided"]
    list_filter = ["voided", "object_type", "verb_id"]
    search_fields = ["=id", "actor_key", "verb_id", "object_id"]
    date_hierarchy = "stored"
    ordering = ["-stored"]
    show_full_result_count = False  # no COUNT(*) over millions of rows per page view
    list_select_related = False
    fields = [
        "id",
        "stored",
        "timestamp",
        "actor_key",
        "verb_id",
        "object_type",
        "object_id",
        "registration",
        "voided",
        "voids_id",
        "credential",
        "document",
    ]
    readonly_fields = fields
    inlines = [StatementFlatInline]
    change_list_template = "admin/analytics/statement/change_list.html"

    @admin.display(description="statement")
    def document(self, obj: Statement) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.data, indent=2, ensure_ascii=False))

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "etl_lag": selectors.etl_lag()}
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(StatementFlat)
class StatementFlatAdmin(ReadOnlyAdmin):
    list_display = [
        "statement_id",
        "actor_key",
        "verb_id",
        "object_id",
        "result_success",
        "result_completion",
        "result_score_scaled",
        "timestamp",
        "voided",
    ]
    list_filter = ["voided", "object_type", "result_success", "result_completion"]
    search_fields = ["=statement__id", "actor_key", "verb_id", "object_id"]
    date_hierarchy = "timestamp"
    show_full_result_count = False


@admin.register(EtlCheckpoint)
class EtlCheckpointAdmin(ReadOnlyAdmin):
    list_display = ["name", "position_stored", "position_id", "updated_at"]
    readonly_fields = ["name", "position_stored", "position_id", "parameters", "updated_at"]


class XapiCredentialForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=XapiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=XapiCredential._meta.get_field("scopes").help_text,
    )
    allowed_origins = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One origin per line (scheme://host[:port]): browser pages there may read "
        "this client's xAPI responses (CORS).",
    )

    class Meta:
        model = XapiCredential
        fields = ["name", "scopes", "rate_per_minute", "burst", "allowed_origins"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["allowed_origins"] = "\n".join(self.instance.allowed_origins or ())

    def clean_allowed_origins(self) -> list[str]:
        lines = [line for line in self.cleaned_data["allowed_origins"].splitlines() if line.strip()]
        errors, origins = [], set()
        for line in lines:
            try:
                origins.add(normalize_origin(line))
            except ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            raise ValidationError(errors)
        return sorted(origins)


@admin.register(XapiCredential)
class XapiCredentialAdmin(admin.ModelAdmin):
    form = XapiCredentialForm
    list_display = [
        "name",
        "key",
        "scopes",
        "is_active",
        "rate_per_minute",
        "burst",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["is_active"]
    search_fields = ["name", "=key"]
    actions = ["revoke"]
    readonly_fields = [
        "key",
        "is_active",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]

    def get_fields(self, request, obj=None):
        editable = ["scopes", "rate_per_minute", "burst", "allowed_origins"]
        if obj is None:
            return ["name", *editable]
        return ["name", "key", *editable, *self.readonly_fields[1:]]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: stored statements keep pointing at their credential

    def save_model(self, request, obj, form, change) -> None:
        if change:
            obj.save(
                update_fields=["name", "scopes", "rate_per_minute", "burst", "allowed_origins"]
            )
            from analytics import auth

            auth.forget(obj.key)
            return
        issued = services.xapi_credential_create(
            name=obj.name,
            scopes=obj.scopes,
            rate_per_minute=obj.rate_per_minute,
            burst=obj.burst,
            allowed_origins=obj.allowed_origins,
            acting_user=request.user,
        )
        for field in XapiCredential._meta.concrete_fields:
            setattr(obj, field.attname, getattr(issued.credential, field.attname))
        obj._state.adding = False
        messages.warning(
            request,
            format_html(
                "Basic auth for this client: username <code>{}</code>, password "
                "<code>{}</code>. Copy the password now: it is stored only as a hash and "
                "will not be shown again.",
                issued.credential.key,
                issued.secret,
            ),
        )

    @admin.action(description="Revoke selected credentials", permissions=["change"])
    def revoke(self, request, queryset) -> None:
        revoked = 0
        for credential in queryset.filter(is_active=True):
            services.xapi_credential_revoke(credential=credential, acting_user=request.user)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} credential(s).", messages.SUCCESS)


# --- engagement (read-only: recorded from events, rebuilt by the rollup) -----------------


@admin.register(EngagementMetric)
class EngagementMetricAdmin(ReadOnlyAdmin):
    list_display = ["recorded_at", "learner", "event_type", "channel", "source_event_id"]
    list_filter = ["event_type", "channel"]
    search_fields = [
        "=learner__id",
        "learner__employee_id",
        "learner__last_name",
        "=source_event_id",
    ]
    date_hierarchy = "recorded_at"
    list_select_related = ["learner"]
    raw_id_fields = ["learner"]
    show_full_result_count = False


class _EngagementDayAdmin(ReadOnlyAdmin):
    counts = list(COUNT_FIELDS)
    date_hierarchy = "day"
    show_full_result_count = False


@admin.register(LearnerEngagementDay)
class LearnerEngagementDayAdmin(_EngagementDayAdmin):
    list_display = ["day", "learner", *_EngagementDayAdmin.counts]
    list_filter = ["day"]
    search_fields = ["=learner__id", "learner__employee_id", "learner__last_name"]
    list_select_related = ["learner"]
    raw_id_fields = ["learner"]


@admin.register(CohortEngagementDay)
class CohortEngagementDayAdmin(_EngagementDayAdmin):
    list_display = ["day", "cohort", "active_learners", *_EngagementDayAdmin.counts]
    list_filter = ["cohort__kind", "day"]
    search_fields = ["cohort__name"]
    list_select_related = ["cohort"]


# --- safe query console: the run log, and the console pages mounted under it -----------


@admin.register(QueryRun)
class QueryRunAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "query_name",
        "user",
        "refused",
        "row_count",
        "duration_ms",
        "short_error",
    ]
    list_filter = ["refused", "query_name"]
    search_fields = ["query_name", "user__username", "error"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    readonly_fields = [f.name for f in QueryRun._meta.fields]
    change_list_template = "admin/analytics/queryrun/change_list.html"

    @admin.display(description="error")
    def short_error(self, obj: QueryRun) -> str:
        return (obj.error[:80] + "…") if len(obj.error) > 80 else obj.error

    def get_urls(self):
        from functools import partial

        from django.urls import path

        from analytics.console import views as console

        def wrap(view):
            return self.admin_site.admin_view(partial(view, admin_site=self.admin_site))

        return [
            path("console/", wrap(console.console_index), name="analytics_queryrun_console"),
            path(
                "console/<str:name>/",
                wrap(console.console_query),
                name="analytics_queryrun_console_query",
            ),
            *super().get_urls(),
        ]


# --- scheduled reports: schedules with targets, runs with files, deliveries ---------------


class ReportScheduleForm(forms.ModelForm):
    report = forms.ChoiceField(choices=())

    class Meta:
        model = ReportSchedule
        fields = ["name", "report", "parameters", "cron", "time_zone", "is_active"]
        help_texts = {
            "parameters": 'The report\'s parameters as JSON, e.g. {"cohort": 3}.',
            "time_zone": "IANA name, e.g. Europe/London; the cron runs on this clock.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["report"].choices = [(r.name, r.title) for r in all_reports()]

    def clean(self):
        data = super().clean()
        if "report" in data and "parameters" in data:
            try:
                report_services.report_parameters_clean(
                    report=data["report"], parameters=data["parameters"]
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    self.add_error(field, errors)
        return data


class ReportTargetInline(admin.TabularInline):
    model = ReportTarget
    extra = 1
    fields = ["kind", "address", "config", "is_active"]


@admin.register(ReportSchedule)
class ReportScheduleAdmin(admin.ModelAdmin):
    form = ReportScheduleForm
    list_display = [
        "name",
        "report",
        "cron",
        "when",
        "time_zone",
        "is_active",
        "next_run_local",
        "last_run_at",
    ]
    list_filter = ["is_active", "report"]
    search_fields = ["name", "report"]
    inlines = [ReportTargetInline]
    actions = ["run_now"]
    readonly_fields = [
        "when",
        "upcoming_runs",
        "next_run_at",
        "last_run_at",
        "created_by",
        "created_at",
        "updated_at",
        "recent_executions",
    ]
    fieldsets = [
        (None, {"fields": ["name", "report", "parameters", "is_active"]}),
        ("Timing", {"fields": ["cron", "time_zone", "when", "upcoming_runs"]}),
        (
            "History",
            {
                "fields": [
                    "next_run_at",
                    "last_run_at",
                    "recent_executions",
                    "created_by",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]

    @admin.display(description="runs")
    def when(self, obj: ReportSchedule) -> str:
        return report_cron.describe(obj.cron) if obj.cron else ""

    @admin.display(description="next run (local)", ordering="next_run_at")
    def next_run_local(self, obj: ReportSchedule) -> str:
        if obj.next_run_at is None:
            return "—"
        try:
            local = obj.next_run_at.astimezone(report_cron.zone(obj.time_zone))
        except report_cron.SCHEDULE_ERRORS:
            return str(obj.next_run_at)
        return f"{local:%Y-%m-%d %H:%M %Z}"

    @admin.display(description="next five runs")
    def upcoming_runs(self, obj: ReportSchedule) -> str:
        if not obj.pk or not obj.is_active:
            return "—"
        try:
            slots = report_cron.upcoming(obj.cron, obj.time_zone, after=timezone.now())
        except report_cron.SCHEDULE_ERRORS:
            return "—"
        return format_html_join(", ", "{}", ((f"{s:%a %Y-%m-%d %H:%M %Z}",) for s in slots))

    @admin.display(description="recent runs")
    def recent_executions(self, obj: ReportSchedule) -> str:
        runs = obj.executions.order_by("-created_at")[:10] if obj.pk else []
        if not runs:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}">#{} {}</a> · {} · {} rows</li>',
                (
                    (
                        reverse("admin:analytics_reportexecution_change", args=[run.pk]),
                        run.pk,
                        run.get_status_display(),
                        f"{run.scheduled_for or run.created_at:%Y-%m-%d %H:%M} UTC",
                        run.row_count if run.row_count is not None else "—",
                    )
                    for run in runs
                ),
            ),
        )

    def save_model(self, request, obj, form, change) -> None:
        report_services.report_schedule_save(schedule=obj, acting_user=request.user)

    @admin.action(description="Run now (an extra run, delivered to the targets)")
    def run_now(self, request, queryset) -> None:
        runs = [
            report_services.report_schedule_run_now(schedule=schedule, acting_user=request.user)
            for schedule in queryset
        ]
        self.message_user(
            request,
            f"Started {len(runs)} run(s): " + ", ".join(f"#{run.pk}" for run in runs),
            messages.SUCCESS,
        )


class ReportDeliveryInline(ReadOnlyInline):
    model = ReportDelivery
    show_change_link = True
    fields = [
        "target",
        "state",
        "retry_count",
        "next_attempt_at",
        "delivered_at",
        "error_category",
        "last_error",
    ]
    readonly_fields = fields


@admin.register(ReportExecution)
class ReportExecutionAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "report",
        "title",
        "schedule",
        "status",
        "scheduled_for",
        "row_count",
        "created_at",
        "finished_at",
        "files",
    ]
    list_filter = ["status", "report"]
    search_fields = ["=id", "report", "title", "schedule__name"]
    date_hierarchy = "created_at"
    list_select_related = ["schedule"]
    fields = [
        "schedule",
        "report",
        "title",
        "parameters",
        "status",
        "scheduled_for",
        "requested_by",
        "row_count",
        "summary",
        "files",
        "error",
        "created_at",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields
    inlines = [ReportDeliveryInline]

    @admin.display(description="files")
    def files(self, obj: ReportExecution) -> str:
        kinds = [kind for kind in FILE_KINDS if getattr(obj, f"{kind}_file")]
        if not kinds:
            return "—"
        return format_html_join(
            " · ", '<a href="{}">{}</a>', ((file_path(obj.pk, k), k.upper()) for k in kinds)
        )


class ReportDeliveryAttemptInline(ReadOnlyInline):
    model = ReportDeliveryAttempt
    fields = [
        "number",
        "created_at",
        "status",
        "error_category",
        "error_message",
        "latency_ms",
        "metadata",
    ]
    readonly_fields = fields


@admin.register(ReportDelivery)
class ReportDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "execution",
        "target",
        "state",
        "retry_count",
        "next_attempt_at",
        "delivered_at",
        "error_category",
        "short_error",
    ]
    list_filter = ["state", "error_category", "target__kind"]
    search_fields = ["=execution__id", "target__address", "last_error"]
    date_hierarchy = "created_at"
    list_select_related = ["execution", "target"]
    fields = [
        "execution",
        "target",
        "state",
        "retry_count",
        "next_attempt_at",
        "delivered_at",
        "error_category",
        "last_error",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    inlines = [ReportDeliveryAttemptInline]
    actions = ["requeue_dead_letters"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="error")
    def short_error(self, obj: ReportDelivery) -> str:
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    @admin.action(description="Requeue selected dead letters", permissions=["change"])
    def requeue_dead_letters(self, request, queryset) -> None:
        done = 0
        for delivery in queryset.filter(state=ReportDeliveryState.DEAD):
            try:
                report_services.report_delivery_requeue(delivery=delivery, acting_user=request.user)
                done += 1
            except ReportScheduleError as exc:
                self.message_user(request, exc.message, messages.WARNING)
        self.message_user(request, f"Requeued {done} report delivery(ies).", messages.SUCCESS)


@admin.register(XapiDocument)
class XapiDocumentAdmin(ReadOnlyAdmin):
    """State and profile documents, as stored through /xapi (read-only: clients own them)."""

    list_display = ["document_id", "kind", "activity_id", "agent_key", "registration", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["activity_id", "agent_key", "=document_id"]
    ordering = ["-id"]  # newest first by the primary key: no index on updated_at to keep
    show_full_result_count = False
    exclude = ["content"]
    readonly_fields = ["content_preview"]

    @admin.display(description="content")
    def content_preview(self, obj: XapiDocument) -> str:
        content = bytes(obj.content)
        if not obj.is_json:
            return f"{len(content)} bytes of {obj.content_type}"
        return content[:2000].decode(errors="replace")
