"""
Writes of completion rewards.

`path_reward_grant` runs from the `path.completed` handler: it records the learner's reward
for the template once (a unique constraint on learner and template), then tries to issue it
under the lock of the cohort's budget row for the month. The gift card is created by
gift_cards.GiftCardService inside the same transaction as the reward row, so a crash
between the two leaves neither. A reward that no longer fits the budget waits as
`pending_budget`; `path_rewards_issue_pending` (beat sweep, admin action) issues those,
oldest first, once budget appears (a new month, or a budget raised in the admin).

An issued reward publishes `path.reward_issued` with its id (never the code); delivery's
handler sends the code to the learner over their channel and calls `path_reward_code_sent`.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from core.outbox import publish_event
from gift_cards import codes
from gift_cards.errors import GiftCardError
from gift_cards.services import GiftCardService
from lessons.models import LearningPath, PathTemplate
from lessons.rewards.models import PathReward, RewardBudget, RewardStatus

logger = logging.getLogger(__name__)


def month_of(moment: datetime.datetime) -> datetime.date:
    """The budget month of `moment`: the first day of its calendar month in UTC."""
    return moment.astimezone(datetime.UTC).date().replace(day=1)


def _cohort_id(learner, template: PathTemplate) -> int | None:
    return getattr(learner, f"{template.reward_cohort_kind}_id", None)


def _budget_locked(*, template: PathTemplate, cohort_id: int | None, month) -> RewardBudget:
    """The (template, cohort, month) budget row, created if missing, locked FOR UPDATE."""
    # ON CONFLICT DO NOTHING: concurrent first completions of a month create one row.
    RewardBudget.objects.bulk_create(
        [RewardBudget(template=template, cohort_id=cohort_id, month=month)],
        ignore_conflicts=True,
    )
    return (
        RewardBudget.objects.select_for_update()
        .select_related("template")
        .get(template=template, cohort_id=cohort_id, month=month)
    )


def budget_spent(*, template_id: int, cohort_id: int | None, month) -> Decimal:
    spent = PathReward.objects.filter(
        template_id=template_id, cohort_id=cohort_id, month=month, status=RewardStatus.ISSUED
    ).aggregate(total=Sum("amount"))["total"]
    return spent or Decimal("0")


def _issue(reward: PathReward, *, now: datetime.datetime) -> bool:
    """Issue `reward` if it fits its cohort's budget for the month of `now`; True if issued.

    The caller holds the reward row (just created, or locked). Leaves it pending when the
    budget is spent, failed when the gift card service refuses it.
    """
    reward.month = month_of(now)
    budget = _budget_locked(
        template=reward.template, cohort_id=reward.cohort_id, month=reward.month
    )
    spent = budget_spent(
        template_id=reward.template_id, cohort_id=reward.cohort_id, month=reward.month
    )
    if spent + reward.amount > budget.limit:
        reward.status = RewardStatus.PENDING_BUDGET
        reward.save(update_fields=["month", "status", "updated_at"])
        logger.info(
            "path reward pending budget",
            extra={"path_reward_id": reward.pk, "template_id": reward.template_id},
        )
        return False
    try:
        with transaction.atomic():
            card = GiftCardService().create(
                amount=reward.amount,
                currency=reward.currency,
                purchaser_id=f"lessons:path-reward:{reward.pk}",
                message=f"For completing {reward.template.title}.",
            )
    except GiftCardError as exc:
        reward.status = RewardStatus.FAILED
        reward.failure_reason = f"{exc.code}: {exc.message}"[:300]
        reward.save(update_fields=["month", "status", "failure_reason", "updated_at"])
        logger.warning(
            "path reward refused by gift cards",
            extra={"path_reward_id": reward.pk, "error_code": exc.code},
        )
        return False
    reward.status = RewardStatus.ISSUED
    reward.gift_card = card
    reward.sealed_code = codes.seal(card.code)
    reward.issued_at = now
    reward.failure_reason = ""
    reward.save()
    _reward_issued_event(reward)
    return True


def _reward_issued_event(reward: PathReward) -> None:
    publish_event(
        "path.reward_issued",
        {
            "path_reward_id": reward.pk,
            "learner_id": reward.learner_id,
            "template": reward.template.slug,
            "gift_card_id": reward.gift_card_id,
            "amount": str(reward.amount),
            "currency": reward.currency,
        },
    )


@transaction.atomic
def path_reward_grant(*, learning_path_id: int) -> PathReward | None:
    """The reward for a completed path: recorded once, issued if the budget allows.

    None when the path is not completed or its template carries no reward. A second call
    (a redelivered or concurrent event) returns the reward already recorded, unchanged.
    """
    path = (
        LearningPath.objects.select_related("template", "learner")
        .filter(pk=learning_path_id)
        .first()
    )
    if path is None or path.status != LearningPath.Status.COMPLETED or path.template is None:
        return None
    template = path.template
    if not template.has_reward:
        return None
    now = timezone.now()
    try:
        with transaction.atomic():
            reward = PathReward.objects.create(
                learner=path.learner,
                template=template,
                learning_path=path,
                cohort_id=_cohort_id(path.learner, template),
                month=month_of(now),
                amount=template.reward_amount,
                currency=template.reward_currency,
                completed_at=path.completed_at or now,
                created_at=now,
            )
    except IntegrityError:
        return PathReward.objects.get(learner=path.learner, template=template)
    _issue(reward, now=now)
    return reward


@dataclass
class PendingSweep:
    issued: int = 0
    still_pending: int = 0

    def __str__(self) -> str:
        return f"{self.issued} issued, {self.still_pending} still pending"


def path_rewards_issue_pending(
    *, reward_ids: list[int] | None = None, retry_failed: bool = False, batch_size: int = 500
) -> PendingSweep:
    """Issue pending rewards whose budget now allows, oldest first.

    Each reward is issued in its own transaction under its budget row's lock. Within one
    (template, cohort), once the oldest waiting reward does not fit, the younger ones wait
    too, so budget that appears goes to those who completed first. `retry_failed` (staff,
    from the admin) also tries again rewards the gift card service refused.
    """
    statuses = [RewardStatus.PENDING_BUDGET] + ([RewardStatus.FAILED] if retry_failed else [])
    pending = PathReward.objects.filter(status__in=statuses)
    if reward_ids is not None:
        pending = pending.filter(pk__in=reward_ids)
    candidates = list(
        pending.order_by("completed_at", "id").values_list("pk", "template_id", "cohort_id")[
            :batch_size
        ]
    )
    result = PendingSweep()
    blocked: set[tuple[int, int | None]] = set()
    for pk, template_id, cohort_id in candidates:
        if (template_id, cohort_id) in blocked:
            result.still_pending += 1
            continue
        with transaction.atomic():
            reward = (
                PathReward.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("template")
                .filter(pk=pk, status__in=statuses)
                .first()
            )
            if reward is None:  # issued meanwhile, or another sweep holds it
                continue
            if _issue(reward, now=timezone.now()):
                result.issued += 1
            else:
                blocked.add((template_id, cohort_id))
                result.still_pending += reward.status == RewardStatus.PENDING_BUDGET
    return result


def path_reward_code_reveal(*, reward: PathReward) -> str | None:
    """The plain gift card code of an issued reward not yet sent, for the send only.

    None when there is nothing to send (already sent, not issued) or the sealed code is
    forged, expired or not this card's.
    """
    if reward.status != RewardStatus.ISSUED or not reward.sealed_code or not reward.gift_card_id:
        return None
    try:
        # Openable for as long as a card is valid: a send owed for days (a channel down)
        # still delivers the code; the sealed copy is dropped once sent.
        code = codes.unseal(
            reward.sealed_code, max_age=settings.GIFT_CARD_VALIDITY_DAYS * 24 * 3600
        )
    except signing.BadSignature:
        return None
    parsed = codes.parse(code)
    card = reward.gift_card
    if parsed is None or not codes.hashes_match(card.code_hash, codes.code_hash(parsed)):
        return None
    return code


@transaction.atomic
def path_reward_code_sent(*, reward_id: int, channel: str) -> PathReward:
    """The code reached the learner over `channel`: stamp it and drop the sealed copy."""
    reward = PathReward.objects.select_for_update().get(pk=reward_id)
    reward.code_sent_at = timezone.now()
    reward.code_channel = channel
    reward.sealed_code = ""
    reward.save(update_fields=["code_sent_at", "code_channel", "sealed_code", "updated_at"])
    return reward


@transaction.atomic
def path_reward_code_resend(*, reward_id: int) -> bool:
    """Ask delivery to send an issued reward's code again (every channel refused it before,
    or the learner has since proven a new address); False when it was already sent."""
    reward = PathReward.objects.select_for_update().select_related("template").get(pk=reward_id)
    if reward.status != RewardStatus.ISSUED or not reward.sealed_code or reward.code_sent_at:
        return False
    _reward_issued_event(reward)
    return True
