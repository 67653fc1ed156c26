"""
Sending the gift card code of a completion reward to the learner, over their channel.

lessons issues the card and publishes `path.reward_issued` with the reward's id (never the
code); this handler looks the reward up, opens the sealed code only now, at send time, and
sends it by the learner's route (preferred channel first, then the fallbacks). The code is
never in an event, a task argument or a log line. A temporary channel error fails the
handler run, which the outbox retries; a permanent one moves on to the next channel.
"""

from __future__ import annotations

import logging

from delivery.channels import ChannelError, OutboundMessage, get_channel
from delivery.router import routes_for
from lessons.rewards.models import PathReward
from lessons.rewards.selectors import path_reward_for_delivery
from lessons.rewards.services import path_reward_code_reveal, path_reward_code_sent

logger = logging.getLogger(__name__)


def _message(reward: PathReward, code: str) -> OutboundMessage:
    amount = f"{reward.currency} {reward.amount}"
    text = (
        f"Well done, {reward.learner.first_name}: you completed {reward.template.title}. "
        f"Here is your {amount} gift card: {code}"
    )
    return OutboundMessage(subject=f"Your {amount} gift card for completing a path", text=text)


def reward_code_send(*, reward_id: int) -> bool:
    """Send the reward's code to its learner; False when there is nothing (left) to send."""
    reward = path_reward_for_delivery(reward_id=reward_id)
    if reward is None:
        return False
    code = path_reward_code_reveal(reward=reward)
    if code is None:
        if reward.code_sent_at is None:
            logger.warning("reward code unavailable", extra={"path_reward_id": reward_id})
        return False
    message = _message(reward, code)
    for route in routes_for(reward.learner):
        try:
            get_channel(route.channel).send(route.address, message)
        except ChannelError as exc:
            if exc.is_temporary:
                raise
            # Never the message (it holds the code), nor the provider's text (it can quote
            # the phone number or address): the reason and codes only.
            logger.warning(
                "reward code refused by channel",
                extra={
                    "path_reward_id": reward_id,
                    "channel": route.channel,
                    "reason": exc.reason,
                    "status_code": exc.status_code,
                    "provider_code": exc.provider_code,
                },
            )
            continue
        path_reward_code_sent(reward_id=reward_id, channel=route.channel)
        return True
    logger.warning(
        "reward code: no channel reaches the learner", extra={"path_reward_id": reward_id}
    )
    return False
