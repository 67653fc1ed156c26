"""
Timestamped HMAC signatures for the webhooks Frontline sends and receives.

Both directions MAC "<unix timestamp>.<raw body>" with HMAC-SHA256 and refuse timestamps
outside a tolerance, so a captured request cannot be replayed later. Each webhook keeps its
own header format; this module is the one place the MAC and the freshness rule live.
"""

from __future__ import annotations

import hashlib
import hmac
import time


def timestamped_hmac(secret: str, timestamp: int | str, body: bytes) -> str:
    """Hex HMAC-SHA256 of "<timestamp>.<body>" under `secret`."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def is_fresh(timestamp: int | str, *, tolerance: int, now: float | None = None) -> bool:
    """True when `timestamp` (unix seconds) is within `tolerance` seconds of now."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    return abs((time.time() if now is None else now) - sent_at) <= tolerance


def digests_match(expected: str, received: str) -> bool:
    return hmac.compare_digest(expected.encode(), received.encode())
