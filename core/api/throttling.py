"""
The API's default throttles: keyed on `core.net.client_ip` (so no throttle trusts a
spoofed header), and kept working while Redis is unreachable.

DRF's throttles keep their request history in Django's cache (Redis in production); with
Redis gone every throttled request would fail. These keep the history in a per-process
local-memory cache for the length of the outage instead (logged once per outage), so the
limits still hold per process and the API keeps answering.
"""

from __future__ import annotations

from rest_framework import throttling
from rest_framework.settings import api_settings

from core.net import client_ip
from core.outages import DegradingCache

_cache = DegradingCache("redis (API throttles)", fallback="per-process throttle")


class ClientIpMixin:
    cache = _cache

    def get_ident(self, request) -> str:
        return client_ip(request)


class AnonRateThrottle(ClientIpMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(ClientIpMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(ClientIpMixin, throttling.ScopedRateThrottle):
    """The view's `throttle_scope` rate, per user when signed in, per client address when not.
    The rate is read at request time, so a settings change (tests, ops) takes effect."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
