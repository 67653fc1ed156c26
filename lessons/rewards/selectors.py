"""Reads of completion rewards (the dashboard's figures, delivery's lookup)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from core import money
from lessons.models import PathTemplate
from lessons.rewards.models import PathReward, RewardBudget, RewardStatus
from lessons.rewards.services import month_of


def path_reward_for_delivery(*, reward_id: int) -> PathReward | None:
    return (
        PathReward.objects.select_related("learner", "template", "gift_card")
        .filter(pk=reward_id)
        .first()
    )


def path_reward_list(*, learner) -> QuerySet[PathReward]:
    """A learner's rewards, newest first."""
    return PathReward.objects.filter(learner=learner).select_related("template", "gift_card")


def path_reward_month_summary(*, now: datetime.datetime | None = None) -> dict[str, Any]:
    """This month's rewards: issued (count and amount per currency), pending and failed (of
    any month), and what is left of each cohort's budget drawn on this month. Two queries,
    however many rewards there are (the dashboard counts its queries)."""
    month = month_of(now or timezone.now())
    this_month_issued = Q(status=RewardStatus.ISSUED, month=month)
    groups = (
        PathReward.objects.filter(
            Q(month=month) | Q(status__in=[RewardStatus.PENDING_BUDGET, RewardStatus.FAILED])
        )
        .values("template_id", "cohort_id", "currency")
        .annotate(
            issued=Count("id", filter=this_month_issued),
            spent=Sum("amount", filter=this_month_issued),
            pending=Count("id", filter=Q(status=RewardStatus.PENDING_BUDGET)),
            failed=Count("id", filter=Q(status=RewardStatus.FAILED)),
        )
        .order_by()
    )
    issued: dict[str, dict[str, Any]] = {}
    by_budget: dict[tuple[int, int | None], dict[str, Any]] = {}
    pending = failed = 0
    for row in groups:
        pending += row["pending"]
        failed += row["failed"]
        if row["issued"]:
            total = issued.setdefault(
                row["currency"], {"currency": row["currency"], "count": 0, "amount": Decimal("0")}
            )
            total["count"] += row["issued"]
            total["amount"] = money.quantize(total["amount"] + row["spent"], row["currency"])
        key = (row["template_id"], row["cohort_id"])
        entry = by_budget.setdefault(key, {"spent": Decimal("0"), "issued": 0, "pending": 0})
        entry["spent"] += row["spent"] or Decimal("0")
        entry["issued"] += row["issued"]
        entry["pending"] += row["pending"]
    budgets = []
    templates: dict[int, PathTemplate] = {}
    for budget in RewardBudget.objects.filter(month=month).select_related("template", "cohort"):
        row = by_budget.get((budget.template_id, budget.cohort_id)) or {}
        used = row.get("spent") or Decimal("0")
        if budget.template.reward_currency:  # SQLite sums lose the trailing zeros
            used = money.quantize(used, budget.template.reward_currency)
        templates[budget.template_id] = budget.template
        budgets.append(
            {
                "template": budget.template.title,
                "cohort": str(budget.cohort) if budget.cohort_id else "No cohort",
                "currency": budget.template.reward_currency,
                "budget": budget.limit,
                "spent": used,
                "left": max(budget.limit - used, Decimal("0")),
                "issued": row.get("issued", 0),
                "pending": row.get("pending", 0),
            }
        )
    budgets.sort(key=lambda b: (b["template"], b["cohort"]))
    return {
        "month": month,
        "issued": sorted(issued.values(), key=lambda r: r["currency"]),
        "issued_count": sum(r["count"] for r in issued.values()),
        "pending": pending,
        "failed": failed,
        "budgets": budgets,
        "templates": [
            {
                "title": t.title,
                "amount": t.reward_amount,
                "currency": t.reward_currency,
                "budget": t.reward_monthly_budget,
                "cohort_kind": t.get_reward_cohort_kind_display(),
            }
            for t in sorted(templates.values(), key=lambda t: t.title)
            if t.has_reward
        ],
    }
