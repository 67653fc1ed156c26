"""
Brute-force protection for anything that takes a gift card code.

- `GiftCardCodeThrottle`: a DRF throttle allowing GIFT_CARD_CODE_RATE_PER_MINUTE requests
  (bursts of GIFT_CARD_CODE_BURST) per account, and a higher
  GIFT_CARD_CODE_ADDRESS_RATE_PER_MINUTE per client address (a store's till share one), on
  core's Redis token bucket, so the limits hold across every web process.
- `CodeLockout`: GIFT_CARD_LOCKOUT_THRESHOLD invalid codes within the window lock out the
  account that sent them and the card they aimed at (the prefix and last four characters,
  the part printed on receipts), and GIFT_CARD_ADDRESS_LOCKOUT_THRESHOLD lock out the
  client address, for GIFT_CARD_LOCKOUT_SECONDS. One associate's typos lock out that
  associate, not every colleague behind the store's address. A valid code does not reset
  the count: otherwise a card the attacker owns could be used to launder guesses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from core.lockouts import Lockout, retry_after_any
from core.net import client_ip
from core.resilience import RateLimiter
from gift_cards import codes
from gift_cards.errors import CodeLockoutError, InvalidCodeError

T = TypeVar("T")


def _account_key(request) -> str | None:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


class GiftCardCodeThrottle(BaseThrottle):
    def __init__(self):
        self._wait = 0.0

    def allow_request(self, request, view) -> bool:
        limits = [
            (
                "gift_cards.code",
                settings.GIFT_CARD_CODE_RATE_PER_MINUTE,
                settings.GIFT_CARD_CODE_BURST,
                _account_key(request),
            ),
            (
                "gift_cards.code.address",
                settings.GIFT_CARD_CODE_ADDRESS_RATE_PER_MINUTE,
                settings.GIFT_CARD_CODE_ADDRESS_BURST,
                f"ip:{client_ip(request)}",
            ),
        ]
        waits = []
        for name, per_minute, burst, key in limits:
            if per_minute <= 0 or key is None:
                continue
            limiter = RateLimiter(name=name, rate=per_minute, per=60.0, burst=burst)
            allowed, wait = limiter.try_acquire(key)
            if not allowed:
                waits.append(wait)
        self._wait = max(waits, default=0.0)
        return not waits

    def wait(self) -> float | None:
        return self._wait or None


def _lockouts() -> list[tuple[Lockout, str]]:
    window = settings.GIFT_CARD_LOCKOUT_WINDOW_SECONDS
    seconds = settings.GIFT_CARD_LOCKOUT_SECONDS
    per_caller = settings.GIFT_CARD_LOCKOUT_THRESHOLD
    return [
        (Lockout("gift_cards.account", per_caller, window, seconds), "user:"),
        (Lockout("gift_cards.card", per_caller, window, seconds), "card:"),
        (
            Lockout(
                "gift_cards.address", settings.GIFT_CARD_ADDRESS_LOCKOUT_THRESHOLD, window, seconds
            ),
            "ip:",
        ),
    ]


def card_key(code: object) -> str | None:
    """The card a code aims at, as far as a guess shows it: prefix and last four."""
    parsed = codes.parse(code)
    return f"card:{parsed.prefix}-{parsed.last_four}" if parsed else None


class CodeLockout:
    """Invalid codes lock out the account, the card aimed at and (higher) the address."""

    def __init__(self, request, *, codes: Iterable[object] = ()):
        subjects = [_account_key(request), f"ip:{client_ip(request)}"]
        subjects += [card_key(code) for code in codes]
        self.subjects = [subject for subject in subjects if subject]

    def _split(self) -> list[tuple[Lockout, list[str]]]:
        return [
            (lockout, [s for s in self.subjects if s.startswith(prefix)])
            for lockout, prefix in _lockouts()
        ]

    def ensure_open(self) -> None:
        retry_after = retry_after_any(self._split())
        if retry_after > 0:
            raise CodeLockoutError(retry_after=retry_after)

    def record_failure(self) -> None:
        for lockout, subjects in self._split():
            lockout.record_failure(subjects)

    def guard(self, func: Callable[[], T]) -> T:
        """Run `func` unless locked out; count it as a failure if it finds no such code."""
        self.ensure_open()
        try:
            return func()
        except InvalidCodeError:
            self.record_failure()
            raise
