"""
The API's default throttles: keyed on `core.net.client_ip` (so no throttle trusts a
spoofed header), and kept working while Redis is unreachable.

DRF's throttles keep their request history in Django's cache (Redis in production); with
Redis gone every throttled request would fail. These keep the history in a per-process
local-memory cache for the length of the outage instead (logged once per outage), so the
limits still hold per process and the API keeps answering.
"""

from __future__ import annotations

import time
from typing import Any

import redis.exceptions
from django.conf import settings
from django.core.cache import cache as default_cache
from django.core.cache.backends.locmem import LocMemCache
from rest_framework import throttling

from core.net import client_ip
from core.outages import OutageLog

_REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class DegradingCache:
    """Django's default cache, or this process's own while Redis does not answer (tried
    again after RATE_LIMIT_REDIS_RETRY_SECONDS)."""

    def __init__(self) -> None:
        self._local = LocMemCache(
            "frontline-throttle-fallback", {"OPTIONS": {"MAX_ENTRIES": 10_000}}
        )
        self._outage = OutageLog("redis (API throttles)")
        self._retry_at = 0.0

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if time.monotonic() >= self._retry_at:
            try:
                result = getattr(default_cache, name)(*args, **kwargs)
            except _REDIS_DOWN as exc:
                self._retry_at = time.monotonic() + settings.RATE_LIMIT_REDIS_RETRY_SECONDS
                self._outage.failure(exc, fallback="per-process throttle")
            else:
                self._outage.recovered()
                return result
        return getattr(self._local, name)(*args, **kwargs)

    def get(self, key: str, default: Any = None) -> Any:
        return self._call("get", key, default)

    def set(self, key: str, value: Any, timeout: Any = None) -> None:
        self._call("set", key, value, timeout)


_cache = DegradingCache()


class ClientIpMixin:
    cache = _cache

    def get_ident(self, request) -> str:
        return client_ip(request)


class AnonRateThrottle(ClientIpMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(ClientIpMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(ClientIpMixin, throttling.ScopedRateThrottle):
    pass
