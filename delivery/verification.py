"""
Sending the one-time codes of learners.services: a claim code to the roster email, a
contact code by SMS (Twilio channel) or Slack DM (Slack channel) to the address being
proven. The code is made here, at send time, so it never sits in the database, the broker
or a log; only its HMAC is stored.

learners sits below delivery in the app graph, so learners asks for a code by publishing
`learner.verification_requested` (the verification's id, never a code) and delivery's
handler sends it. It uses the channels directly (transport only: no routing, no delivery
records) because a proof must go to one exact address, not wherever the router would fall
back to. A temporary channel error fails the handler run, which the outbox retries.
"""

from __future__ import annotations

import logging

from django.conf import settings

from delivery.channels import ChannelError, OutboundMessage, get_channel
from learners.models import LearnerVerification
from learners.services import verification_code_issue

logger = logging.getLogger(__name__)

Purpose = LearnerVerification.Purpose
CHANNELS = {Purpose.CLAIM: "email", Purpose.PHONE: "sms", Purpose.SLACK: "slack"}


def _message(purpose: str, code: str) -> OutboundMessage:
    minutes = settings.IDENTITY_CODE_MINUTES
    if purpose == Purpose.CLAIM:
        text = (
            f"Your Frontline registration code is {code}. It is valid for {minutes} minutes.\n\n"
            "Enter it with your employee id and a password of your choice to finish "
            "registering. If you did not ask to register, ignore this email: nothing "
            "happens without the code."
        )
        return OutboundMessage(subject="Your Frontline registration code", text=text)
    text = (
        f"Your Frontline verification code is {code} (valid {minutes} min). "
        "If you did not change your contact details, ignore this message."
    )
    return OutboundMessage(subject="Your Frontline verification code", text=text)


def verification_code_send(*, verification_id: int) -> bool:
    """Send a fresh code for the verification; False when it is no longer live."""
    issued = verification_code_issue(verification_id=verification_id)
    if issued is None:
        return False
    verification, code = issued
    channel = CHANNELS[verification.purpose]
    try:
        get_channel(channel).send(verification.address, _message(verification.purpose, code))
    except ChannelError as exc:
        if exc.is_temporary:
            raise
        # Never the code or the message text: only what the provider said.
        logger.warning(
            "verification code refused",
            extra={
                "verification_id": verification_id,
                "purpose": verification.purpose,
                "channel": channel,
                **exc.as_metadata(),
            },
        )
        return False
    return True
