from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.html import format_html

from core.models import Heartbeat, JobRun, OutboxEvent, ProcessedEvent
from core.tokens import user_tokens_revoke


class ReadOnlyAdmin(admin.ModelAdmin):
    """Log tables: staff read them, nobody edits them by hand.

    `deletable = False` forbids deleting too (records other rows point at, append-only logs).
    """

    deletable = True

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.deletable and super().has_delete_permission(request, obj)


class ReadOnlyInline(admin.TabularInline):
    """Rows shown under their parent, written only by services: no add, edit or delete."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = ("name", "status_badge", "started_at", "duration", "counts", "short_error")
    list_filter = ("status", "name", ("started_at", admin.DateFieldListFilter))
    search_fields = ("name", "error", "task_id", "request_id")
    date_hierarchy = "started_at"
    readonly_fields = [f.name for f in JobRun._meta.fields]

    _COLOURS = {"succeeded": "#2e7d32", "failed": "#c62828", "running": "#1565c0"}

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return format_html(
            '<strong style="color:{}">{}</strong>',
            self._COLOURS.get(obj.status, "#555"),
            obj.get_status_display(),
        )

    @admin.display(description="duration")
    def duration(self, obj):
        seconds = obj.duration_seconds
        return "—" if seconds is None else f"{seconds:.1f} s"

    @admin.display(description="error")
    def short_error(self, obj):
        return (obj.error[:80] + "…") if len(obj.error) > 80 else obj.error


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "topic", "created_at", "published_at", "attempts", "last_error")
    list_filter = ("topic", ("published_at", admin.EmptyFieldListFilter))
    search_fields = ("topic", "event_id")
    readonly_fields = [f.name for f in OutboxEvent._meta.fields]
    actions = ["publish_now"]

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Publish pending events now")
    def publish_now(self, request, queryset):
        from core.outbox import publish_pending

        try:
            count = publish_pending()
        except Exception as exc:
            self.message_user(request, f"Publishing failed: {exc}", messages.ERROR)
            return
        self.message_user(request, f"Published {count} pending event(s).", messages.SUCCESS)


@admin.register(ProcessedEvent)
class ProcessedEventAdmin(ReadOnlyAdmin):
    list_display = ("handler", "event_id", "processed_at")
    list_filter = ("handler",)
    search_fields = ("event_id", "handler")


@admin.register(Heartbeat)
class HeartbeatAdmin(ReadOnlyAdmin):
    list_display = ("name", "seen_at", "age")

    @admin.display(description="age")
    def age(self, obj):
        return f"{(timezone.now() - obj.seen_at).total_seconds():.0f} s ago"


# --- staff accounts: a password change or deactivation revokes every refresh token ------


class _RevokingPasswordChangeForm(AdminPasswordChangeForm):
    def save(self, commit=True):
        user = super().save(commit=commit)
        user_tokens_revoke(user=user)
        return user


class UserAdmin(DjangoUserAdmin):
    change_password_form = _RevokingPasswordChangeForm

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            user_tokens_revoke(user=obj)


admin.site.unregister(User)
admin.site.register(User, UserAdmin)
