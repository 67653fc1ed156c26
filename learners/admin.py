"""
Learner and cohort admin. The learning-path inline and the enrol actions are added by
lessons/admin.py (learners must not import lessons), which re-registers `LearnerAdmin`.

Staff edits set phone and Slack id directly (a trusted source, like the HR import); only
the learners' self-service must prove a new address first.
"""

from django.contrib import admin, messages

from learners import services
from learners.errors import ChannelUnavailableError
from learners.models import Channel, Cohort, Learner, LearnerVerification


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name"]


def _change_channel_action(channel: str):
    def action(modeladmin, request, queryset):
        changed, refused = 0, []
        for learner in queryset:
            try:
                services.learner_change_channel(
                    learner=learner, channel=channel, acting_user=request.user
                )
                changed += 1
            except ChannelUnavailableError as exc:
                refused.append(f"{learner.employee_id}: {exc.message}")
        modeladmin.message_user(request, f"{changed} learner(s) now prefer {channel}.")
        if refused:
            modeladmin.message_user(
                request, "Not changed — " + "; ".join(refused[:20]), level=messages.WARNING
            )

    action.__name__ = f"change_channel_to_{channel}"
    action.short_description = f"Change preferred channel to {Channel(channel).label}"
    return action


@admin.action(description="Invite to register (code to the roster email)")
def invite_to_register(modeladmin, request, queryset):
    """The same claim code a self-registration asks for, sent on staff's word."""
    unclaimed = list(queryset.filter(user__isnull=True))
    for learner in unclaimed:
        services.learner_claim_request(employee_id=learner.employee_id, acting_user=request.user)
    skipped = queryset.count() - len(unclaimed)
    modeladmin.message_user(request, f"{len(unclaimed)} invitation(s) sent.")
    if skipped:
        modeladmin.message_user(
            request, f"{skipped} learner(s) already registered: not invited.", messages.WARNING
        )


class LearnerAdmin(admin.ModelAdmin):
    list_display = [
        "employee_id",
        "full_name",
        "email",
        "role",
        "preferred_channel",
        "store",
        "region",
        "team",
        "onboarding_completed",
    ]
    list_filter = [
        "role",
        "preferred_channel",
        "onboarding_completed",
        "knowledge_level",
        "store",
        "region",
        "team",
        "sms_opted_out",
    ]
    search_fields = ["employee_id", "email", "first_name", "last_name", "slack_user_id", "phone"]
    list_select_related = ["store", "region", "team"]
    raw_id_fields = ["manager", "user"]
    readonly_fields = ["created_at", "updated_at"]
    actions = [invite_to_register, *(_change_channel_action(channel) for channel in Channel.values)]
    fieldsets = [
        (None, {"fields": ["employee_id", "first_name", "last_name", "role", "knowledge_level"]}),
        (
            "Contact and delivery",
            {
                "fields": [
                    "email",
                    "phone",
                    "slack_user_id",
                    "preferred_channel",
                    "time_zone",
                    "preferred_send_time",
                    ("quiet_hours_start", "quiet_hours_end"),
                    ("slack_opted_out", "sms_opted_out", "email_opted_out"),
                ]
            },
        ),
        (
            "Organisation",
            {"fields": ["manager", "store", "region", "team", "onboarding_completed", "user"]},
        ),
        ("Other", {"fields": ["metadata", "created_at", "updated_at"]}),
    ]


admin.site.register(Learner, LearnerAdmin)


@admin.register(LearnerVerification)
class LearnerVerificationAdmin(admin.ModelAdmin):
    """Codes sent to prove a claim or a contact: who, where, and what became of them. The
    code itself is never stored (only its HMAC, not shown)."""

    list_display = [
        "learner",
        "purpose",
        "address",
        "created_at",
        "sent_at",
        "confirmed_at",
        "voided_at",
        "attempts",
    ]
    list_filter = ["purpose"]
    search_fields = ["learner__employee_id", "address"]
    list_select_related = ["learner"]
    fields = [f for f in list_display if f != "learner"] + ["learner", "expires_at", "acting_user"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
