"""
Brute-force protection for anything that takes a gift card code.

- `GiftCardCodeThrottle`: a DRF throttle allowing GIFT_CARD_CODE_RATE_PER_MINUTE requests
  (bursts of GIFT_CARD_CODE_BURST) per client and, separately, per IP, on core's Redis
  token bucket, so the limit holds across every web process.
- `CodeLockout`: GIFT_CARD_LOCKOUT_THRESHOLD invalid codes within the window lock the
  client and its IP out for GIFT_CARD_LOCKOUT_SECONDS. A valid code does not reset the
  count: otherwise a card the attacker owns could be used to launder guesses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from core.resilience import RateLimiter
from gift_cards.errors import CodeLockoutError, InvalidCodeError

T = TypeVar("T")


def client_keys(request, ident: str) -> list[str]:
    user = getattr(request, "user", None)
    keys = [f"ip:{ident}"]
    if user is not None and user.is_authenticated:
        keys.insert(0, f"user:{user.pk}")
    return keys


class GiftCardCodeThrottle(BaseThrottle):
    def __init__(self):
        self._wait = 0.0

    def get_ident(self, request) -> str:
        # DRF trusts X-Forwarded-For when NUM_PROXIES is unset, which would let a guesser
        # rotate that header past the per-IP limit; trust it only behind declared proxies.
        if api_settings.NUM_PROXIES is None:
            return request.META.get("REMOTE_ADDR") or "unknown"
        return super().get_ident(request)

    def allow_request(self, request, view) -> bool:
        per_minute = settings.GIFT_CARD_CODE_RATE_PER_MINUTE
        if per_minute <= 0:
            return True
        limiter = RateLimiter(
            name="gift_cards.code", rate=per_minute, per=60.0, burst=settings.GIFT_CARD_CODE_BURST
        )
        waits = []
        for key in client_keys(request, self.get_ident(request)):
            allowed, wait = limiter.try_acquire(key)
            if not allowed:
                waits.append(wait)
        self._wait = max(waits, default=0.0)
        return not waits

    def wait(self) -> float | None:
        return self._wait or None


class CodeLockout:
    def __init__(self, keys: list[str]):
        self.keys = keys

    @staticmethod
    def _lock_key(key: str) -> str:
        return f"gift_cards:lockout:{key}"

    @staticmethod
    def _count_key(key: str) -> str:
        return f"gift_cards:bad_codes:{key}"

    def ensure_open(self) -> None:
        until = max((cache.get(self._lock_key(key)) or 0 for key in self.keys), default=0)
        remaining = until - time.time()
        if remaining > 0:
            raise CodeLockoutError(retry_after=int(remaining) + 1)

    def record_failure(self) -> None:
        window = settings.GIFT_CARD_LOCKOUT_WINDOW_SECONDS
        for key in self.keys:
            count_key = self._count_key(key)
            cache.add(count_key, 0, timeout=window)
            try:
                failures = cache.incr(count_key)
            except ValueError:  # expired between add and incr
                cache.set(count_key, 1, timeout=window)
                failures = 1
            if failures >= settings.GIFT_CARD_LOCKOUT_THRESHOLD:
                seconds = settings.GIFT_CARD_LOCKOUT_SECONDS
                cache.set(self._lock_key(key), time.time() + seconds, timeout=seconds)
                cache.delete(count_key)

    def guard(self, func: Callable[[], T]) -> T:
        """Run `func` unless locked out; count it as a failure if it finds no such code."""
        self.ensure_open()
        try:
            return func()
        except InvalidCodeError:
            self.record_failure()
            raise
