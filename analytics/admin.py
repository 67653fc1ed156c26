"""
Admin of the learning record store: statements (read-only), the flattened table, client
credentials (issued through the service, secret shown once; revoke action), ETL state.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from analytics import selectors, services
from analytics.models import EtlCheckpoint, Statement, StatementFlat, XapiCredential


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


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


@admin.register(XapiCredential)
class XapiCredentialAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "key",
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
        if obj is None:
            return ["name", "rate_per_minute", "burst"]
        return ["name", "key", "rate_per_minute", "burst", *self.readonly_fields[1:]]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: stored statements keep pointing at their credential

    def save_model(self, request, obj, form, change) -> None:
        if change:
            obj.save(update_fields=["name", "rate_per_minute", "burst"])
            from analytics import auth

            auth.forget(obj.key)
            return
        issued = services.xapi_credential_create(
            name=obj.name,
            rate_per_minute=obj.rate_per_minute,
            burst=obj.burst,
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
