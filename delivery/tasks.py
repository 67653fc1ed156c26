"""Thin Celery entry points; every name starts with "delivery." (routed to the deliveries queue).

Draining runs as up to DELIVERY_DRAIN_CONCURRENCY chains: a chain sends one bounded batch
and, while due work remains, queues its own next batch, so a backlog drains at the
providers' rates with every worker instead of one batch per beat tick. Each chain holds a
slot in the cache (a token with a TTL): beat's tick and the after-commit kicks start a
chain only for a free slot, and a chain whose slot was taken over (its TTL ran out while
it was lost) stops. A chain whose worker died is restarted by the next tick after its TTL.
"""

from __future__ import annotations

import contextlib
import logging
import uuid

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from core.jobs import tracked_job

logger = logging.getLogger(__name__)

# Work due within this many seconds keeps a chain alive (it waits for it with a countdown).
DRAIN_LOOKAHEAD_SECONDS = 60


def _slot_key(slot: int) -> str:
    return f"delivery:drain:slot:{slot}"


def _slot_ttl(extra: float = 0) -> int:
    # One batch, plus a rate-limit wait and a provider timeout, with room to spare.
    return int(settings.DELIVERY_DRAIN_BATCH_SECONDS * 2 + 60 + extra)


def kick_drains() -> int:
    """Start a drain chain in every free slot; how many were started. Never raises: when
    the cache or the broker is down, the work stays due and beat's next tick tries again."""
    started = 0
    for slot in range(max(settings.DELIVERY_DRAIN_CONCURRENCY, 1)):
        token = uuid.uuid4().hex
        key = _slot_key(slot)
        try:
            if not cache.add(key, token, timeout=_slot_ttl()):
                continue  # a chain holds this slot
            drain_task.apply_async(kwargs={"slot": slot, "token": token})
            started += 1
        except Exception:
            logger.warning("could not start a drain; beat will retry", exc_info=True)
            with contextlib.suppress(Exception):  # the cache may be what is down
                if cache.get(key) == token:
                    cache.delete(key)
            break
    return started


@shared_task(name="delivery.plan_dispatch", ignore_result=True)
@tracked_job("delivery.plan_dispatch")
def plan_dispatch_task(run) -> int:
    from delivery.planning import plan_dispatch

    summary = plan_dispatch()
    run.count("planned", summary.planned)
    run.set("by_zone", summary.by_zone)
    return summary.planned


@shared_task(name="delivery.drain", ignore_result=True)
def drain_task(slot: int | None = None, token: str = "") -> dict:
    """Beat's tick (no slot): start chains in the free slots. A chain (slot, token): one
    batch, then its next batch if work remains or falls due within a minute."""
    if slot is None:
        return {"started": kick_drains()}
    from delivery.services import drain_batch, next_due_at

    key = _slot_key(slot)
    if cache.get(key) != token:
        return {"superseded": 1}
    cache.touch(key, _slot_ttl())
    result = drain_batch(seconds=settings.DELIVERY_DRAIN_BATCH_SECONDS)
    if result.counts:
        logger.info("delivery drain", extra={"counts": result.counts, "slot": slot})
    countdown = 0.0
    if not result.more:
        due_at = next_due_at()
        wait = (due_at - timezone.now()).total_seconds() if due_at else None
        if wait is None or wait > DRAIN_LOOKAHEAD_SECONDS:
            if cache.get(key) == token:
                cache.delete(key)
            return result.counts
        countdown = max(wait, 0.0)
    cache.touch(key, _slot_ttl(countdown))
    try:
        drain_task.apply_async(kwargs={"slot": slot, "token": token}, countdown=countdown or None)
    except Exception:
        logger.warning("could not queue the next drain batch; beat will", exc_info=True)
        cache.delete(key)
    return result.counts


@shared_task(name="delivery.send", ignore_result=True)
def send_task(task_id: int) -> str:
    """Send one task if it is due; a redelivered message finds it sent and does nothing."""
    from delivery.services import task_send

    outcome = task_send(task_id=task_id)
    return outcome.result if outcome else "not_due"


@shared_task(name="delivery.send_reminders", ignore_result=True)
@tracked_job("delivery.send_reminders")
def send_reminders_task(run) -> dict:
    from delivery.reminders import reminders_send

    counts = reminders_send(job_run=run.run)
    for key, value in counts.items():
        run.count(key, value)
    return counts


@shared_task(name="delivery.reconcile_in_transit", ignore_result=True)
@tracked_job("delivery.reconcile_in_transit")
def reconcile_in_transit_task(run) -> dict:
    from delivery.services import reconcile_in_transit

    counts = reconcile_in_transit()
    for key, value in counts.items():
        run.count(key, value)
    return counts


@shared_task(
    name="delivery.slack_update_answered",
    ignore_result=True,
    max_retries=3,
    bind=True,
)
def slack_update_answered_task(self, channel_id: str, ts: str, text: str) -> str:
    """Replace an answered Slack lesson with its result. Failures (message gone, edit
    window closed, rate limited, Slack down) are logged; a rate limit waits its
    Retry-After and tries again, at most three times. The answer itself is stored already."""
    from delivery.channels import ChannelError, Reason, SlackChannel, get_channel

    slack = get_channel("slack")
    if not isinstance(slack, SlackChannel):
        return "not_configured"
    try:
        slack.update(
            channel=channel_id,
            ts=ts,
            text=text,
            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        )
    except ChannelError as exc:
        logger.warning(
            "Slack message update failed",
            extra={"channel": channel_id, "ts": ts, **exc.as_metadata()},
        )
        retry = exc.reason == Reason.RATE_LIMITED and not self.request.is_eager
        if retry and self.request.retries < self.max_retries:
            raise self.retry(countdown=exc.retry_after or 5, exc=exc) from exc
        return exc.reason
    return "updated"
