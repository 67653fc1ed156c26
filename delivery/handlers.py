"""Outbox handlers of delivery: messages other apps ask for through domain events."""

from __future__ import annotations

from core.outbox import subscribe
from delivery.verification import verification_code_send


@subscribe("learner.verification_requested")
def on_learner_verification_requested(event) -> None:
    """Send the one-time code of a registration claim or a contact change."""
    verification_code_send(verification_id=event.payload["verification_id"])
