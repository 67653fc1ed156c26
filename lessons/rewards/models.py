"""
Completion rewards: one PathReward per learner and path template, and one RewardBudget row
per (template, cohort, month) that issuers lock to keep a cohort's month within budget.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone

AMOUNT = {"max_digits": 12, "decimal_places": 2}


class RewardStatus(models.TextChoices):
    ISSUED = "issued", "Issued"
    PENDING_BUDGET = "pending_budget", "Reward pending budget"
    FAILED = "failed", "Failed"


class RewardBudget(models.Model):
    """The budget of one cohort for one template's rewards in one calendar month (UTC).

    The row is the lock: an issuer takes it FOR UPDATE, sums what was issued against it and
    issues only what still fits, so concurrent completions can never spend past the budget.
    `budget_amount` overrides the template's monthly budget for this cohort and month (raise
    it in the admin; pending rewards are issued by the next sweep or the admin action).
    """

    template = models.ForeignKey(
        "lessons.PathTemplate", on_delete=models.CASCADE, related_name="reward_budgets"
    )
    cohort = models.ForeignKey(
        "learners.Cohort",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Empty for learners without a cohort of the template's kind.",
    )
    month = models.DateField(help_text="First day of the month (UTC).")
    budget_amount = models.DecimalField(
        **AMOUNT,
        null=True,
        blank=True,
        help_text="Overrides the template's monthly budget for this cohort and month.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-month", "template", "cohort"]
        constraints = [
            # Two partial indexes rather than NULLS NOT DISTINCT, which SQLite (the embedded
            # mode) lacks: one row per cohort's month, and one for learners without a cohort.
            models.UniqueConstraint(
                fields=["template", "cohort", "month"],
                condition=models.Q(cohort__isnull=False),
                name="lessons_reward_budget_one_per_month",
            ),
            models.UniqueConstraint(
                fields=["template", "month"],
                condition=models.Q(cohort__isnull=True),
                name="lessons_reward_budget_one_per_month_no_cohort",
            ),
            models.CheckConstraint(
                condition=models.Q(budget_amount__isnull=True) | models.Q(budget_amount__gte=0),
                name="lessons_reward_budget_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} — {self.cohort or 'no cohort'} — {self.month:%Y-%m}"

    @property
    def limit(self) -> Decimal:
        if self.budget_amount is not None:
            return self.budget_amount
        return self.template.reward_monthly_budget or Decimal("0")


class PathReward(models.Model):
    """The reward of one learner for completing one path template (at most one, ever).

    `month` is the budget month the reward counts against: the month it was issued, or for a
    pending one the month it last waited in. `sealed_code` holds the gift card code sealed
    (gift_cards.codes.seal) until delivery has sent it to the learner, then it is cleared.
    """

    learner = models.ForeignKey("learners.Learner", on_delete=models.PROTECT, related_name="+")
    template = models.ForeignKey(
        "lessons.PathTemplate", on_delete=models.PROTECT, related_name="rewards"
    )
    learning_path = models.ForeignKey(
        "lessons.LearningPath", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cohort = models.ForeignKey(
        "learners.Cohort", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    month = models.DateField(help_text="Budget month (first day, UTC).")
    status = models.CharField(
        max_length=16, choices=RewardStatus.choices, default=RewardStatus.PENDING_BUDGET
    )
    amount = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=3)
    gift_card = models.ForeignKey(
        "gift_cards.GiftCard", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sealed_code = models.TextField(blank=True, editable=False)
    failure_reason = models.CharField(max_length=300, blank=True)
    completed_at = models.DateTimeField(help_text="When the learner completed the path.")
    issued_at = models.DateTimeField(null=True, blank=True)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    code_channel = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["learner", "template"], name="lessons_reward_once_per_learner_path"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=RewardStatus.values),
                name="lessons_reward_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="lessons_reward_amount_positive"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="issued")
                | models.Q(gift_card__isnull=False, issued_at__isnull=False),
                name="lessons_reward_issued_has_card",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="lessons_reward_status_idx"),
            models.Index(
                fields=["template", "cohort", "month", "status"], name="lessons_reward_budget_idx"
            ),
        ]
        permissions = [("issue_pathreward", "Can issue pending path rewards")]

    def __str__(self) -> str:
        return f"{self.template} reward — learner {self.learner_id} ({self.get_status_display()})"
