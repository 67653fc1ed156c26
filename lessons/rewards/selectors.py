"""Reads of completion rewards (the dashboard's figures, delivery's lookup)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone

from lessons.models import PathTemplate
from lessons.rewards.models import PathReward, RewardBudget, RewardStatus
from lessons.rewards.services import month_of


def path_reward_for_delivery(*, reward_id: int) -> PathReward | None:
    return (
        PathReward.objects.select_related("learner", "template", "gift_card")
        .filter(pk=reward_id)
        .first()
    )


def path_reward_month_summary(*, now: datetime.datetime | None = None) -> dict[str, Any]:
    """This month's rewards: issued (count and amount per currency), pending, and what is
    left of each cohort's budget that has been drawn on this month."""
    month = month_of(now or timezone.now())
    issued = list(
        PathReward.objects.filter(status=RewardStatus.ISSUED, month=month)
        .values("currency")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by("currency")
    )
    pending = PathReward.objects.filter(status=RewardStatus.PENDING_BUDGET).count()
    failed = PathReward.objects.filter(status=RewardStatus.FAILED).count()
    spent = {
        (row["template_id"], row["cohort_id"]): row
        for row in PathReward.objects.filter(month=month)
        .values("template_id", "cohort_id")
        .annotate(
            spent=Sum("amount", filter=Q(status=RewardStatus.ISSUED)),
            issued=Count("id", filter=Q(status=RewardStatus.ISSUED)),
            pending=Count("id", filter=Q(status=RewardStatus.PENDING_BUDGET)),
        )
        .order_by()
    }
    budgets = []
    for budget in RewardBudget.objects.filter(month=month).select_related("template", "cohort"):
        row = spent.get((budget.template_id, budget.cohort_id)) or {}
        used = row.get("spent") or Decimal("0")
        budgets.append(
            {
                "template": budget.template.title,
                "cohort": str(budget.cohort) if budget.cohort_id else "No cohort",
                "currency": budget.template.reward_currency,
                "budget": budget.limit,
                "spent": used,
                "left": max(budget.limit - used, Decimal("0")),
                "issued": row.get("issued") or 0,
                "pending": row.get("pending") or 0,
            }
        )
    budgets.sort(key=lambda b: (b["template"], b["cohort"]))
    rewarded = [
        {
            "title": t.title,
            "amount": t.reward_amount,
            "currency": t.reward_currency,
            "budget": t.reward_monthly_budget,
            "cohort_kind": t.get_reward_cohort_kind_display(),
        }
        for t in PathTemplate.objects.filter(reward_amount__isnull=False).order_by("title")
    ]
    return {
        "month": month,
        "issued": issued,
        "issued_count": sum(r["count"] for r in issued),
        "pending": pending,
        "failed": failed,
        "budgets": budgets,
        "templates": rewarded,
    }
