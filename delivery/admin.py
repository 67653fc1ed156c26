from django.contrib import admin
from django.utils.html import format_html_join

from delivery.models import SinkMessage


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
