"""
Which channel reaches a learner: the preferred one first, then DELIVERY_FALLBACK_ORDER,
skipping channels the learner opted out of or has no address on, and channels without
credentials while any channel has them (in embedded mode none has, and the local sink
stands in for the preferred channel).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings

from delivery.channels import is_configured
from learners.errors import ChannelUnavailableError
from learners.models import Channel, Learner


@dataclass(frozen=True)
class Route:
    channel: str
    address: str


def channel_order(learner: Learner) -> list[str]:
    order = [learner.preferred_channel]
    for name in settings.DELIVERY_FALLBACK_ORDER:
        if name in Channel.values and name not in order:
            order.append(name)
    return order


def routes_for(learner: Learner, *, exclude: Iterable[str] = ()) -> list[Route]:
    """Channels that can reach `learner`, best first, without those in `exclude`."""
    excluded = set(exclude)
    reachable: list[Route] = []
    for name in channel_order(learner):
        if name in excluded:
            continue
        try:
            reachable.append(Route(name, learner.delivery_address(name)))
        except ChannelUnavailableError:
            continue
    configured = [route for route in reachable if is_configured(route.channel)]
    if configured:
        return configured
    return reachable[:1] if not any(is_configured(n) for n in Channel.values) else []


def next_route(learner: Learner, *, exclude: Iterable[str] = ()) -> Route | None:
    routes = routes_for(learner, exclude=exclude)
    return routes[0] if routes else None
