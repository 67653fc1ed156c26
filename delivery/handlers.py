"""Outbox handlers of delivery: messages other apps ask for through domain events."""

from __future__ import annotations

from core.outbox import subscribe
from delivery.rewards import reward_code_send
from delivery.verification import verification_code_send


@subscribe("learner.verification_requested")
def on_learner_verification_requested(event) -> None:
    """Send the one-time code of a registration claim or a contact change."""
    verification_code_send(verification_id=event.payload["verification_id"])


@subscribe("path.reward_issued")
def on_path_reward_issued(event) -> None:
    """Send the gift card code of a completion reward to the learner over their channel."""
    reward_code_send(reward_id=event.payload["path_reward_id"])
