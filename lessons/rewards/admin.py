"""Admin of completion rewards: the rewards (read-only, with "issue pending") and budgets."""

from __future__ import annotations

import datetime

from django.contrib import admin, messages

from core.admin import ReadOnlyAdmin, ReadOnlyInline
from lessons.rewards import services
from lessons.rewards.models import PathReward, RewardBudget, RewardStatus


class MonthFilter(admin.SimpleListFilter):
    """Budget months that have rows, newest first."""

    title = "budget month"
    parameter_name = "month"

    def lookups(self, request, model_admin):
        months = model_admin.model.objects.order_by("-month").values_list("month", flat=True)
        months = months.distinct()
        return [(m.isoformat(), f"{m:%B %Y}") for m in months]

    def queryset(self, request, queryset):
        if self.value():
            try:
                return queryset.filter(month=datetime.date.fromisoformat(self.value()))
            except ValueError:
                return queryset.none()
        return queryset


# The detail page, read-only: rewards are written by the path.completed handler and the
# pending sweep only.
REWARD_FIELDSETS = [
    (None, {"fields": ["learner", "template", "learning_path", "cohort", "status"]}),
    ("Reward", {"fields": ["amount", "currency", "month", "gift_card_code", "failure_reason"]}),
    (
        "Timeline",
        {
            "fields": [
                "completed_at",
                "issued_at",
                "code_sent_at",
                "code_channel",
                "created_at",
                "updated_at",
            ]
        },
    ),
]


@admin.register(PathReward)
class PathRewardAdmin(ReadOnlyAdmin):
    deletable = False  # a reward is a financial record, pointed at by its gift card
    list_display = [
        "id",
        "learner",
        "template",
        "cohort",
        "month",
        "status",
        "amount",
        "currency",
        "gift_card_code",
        "code_sent_at",
        "completed_at",
    ]
    list_filter = ["status", MonthFilter, "cohort", "template"]
    search_fields = [
        "learner__employee_id",
        "learner__first_name",
        "learner__last_name",
        "learner__email",
    ]
    list_select_related = ["learner", "template", "cohort", "gift_card"]
    date_hierarchy = "completed_at"
    actions = ["issue_pending", "resend_code"]
    fieldsets = REWARD_FIELDSETS
    readonly_fields = [name for _title, options in REWARD_FIELDSETS for name in options["fields"]]

    @admin.display(description="Gift card")
    def gift_card_code(self, obj):
        return obj.gift_card.masked_code if obj.gift_card_id else "—"

    def has_issue_permission(self, request) -> bool:
        return request.user.has_perm("lessons.issue_pathreward")

    @admin.action(
        description="Issue pending rewards (where the budget allows)", permissions=["issue"]
    )
    def issue_pending(self, request, queryset):
        waiting = [RewardStatus.PENDING_BUDGET, RewardStatus.FAILED]
        ids = list(queryset.filter(status__in=waiting).values_list("pk", flat=True))
        if not ids:
            self.message_user(
                request, "None of the selected rewards is pending or failed.", messages.WARNING
            )
            return
        result = services.path_rewards_issue_pending(reward_ids=ids, retry_failed=True)
        level = messages.SUCCESS if not result.still_pending else messages.WARNING
        self.message_user(request, f"Pending rewards: {result}.", level)

    @admin.action(description="Send the gift card code again (not sent yet)", permissions=["issue"])
    def resend_code(self, request, queryset):
        sent = sum(
            services.path_reward_code_resend(reward_id=pk)
            for pk in queryset.values_list("pk", flat=True)
        )
        skipped = queryset.count() - sent
        self.message_user(
            request,
            f"Code sends queued: {sent}; {skipped} skipped (not issued, or already sent).",
            messages.SUCCESS if not skipped else messages.WARNING,
        )


@admin.register(RewardBudget)
class RewardBudgetAdmin(admin.ModelAdmin):
    list_display = ["template", "cohort", "month", "budget_amount", "limit_shown", "spent"]
    list_filter = [MonthFilter, "template"]
    list_select_related = ["template", "cohort"]
    fields = ["template", "cohort", "month", "budget_amount", "limit_shown", "spent"]
    readonly_fields = ["template", "cohort", "month", "limit_shown", "spent"]

    @admin.display(description="Budget in force")
    def limit_shown(self, obj):
        return f"{obj.template.reward_currency} {obj.limit}"

    @admin.display(description="Issued")
    def spent(self, obj):
        amount = services.budget_spent(
            template_id=obj.template_id, cohort_id=obj.cohort_id, month=obj.month
        )
        return f"{obj.template.reward_currency} {amount}"

    # Rows are created by the first reward of a cohort's month; staff only raise or lower
    # the budget of one.
    def has_add_permission(self, request):
        return False


class PathRewardInline(ReadOnlyInline):
    """A learner's completion rewards, on the learner's page."""

    model = PathReward
    fk_name = "learner"
    fields = ["template", "status", "amount", "currency", "month", "issued_at", "code_sent_at"]
    readonly_fields = fields
    show_change_link = True
