"""
HMAC authentication of the orders service's webhook.

    X-Frontline-Timestamp: <unix seconds>
    X-Frontline-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

The timestamp is inside the MAC and must be within the tolerance, so a captured request
cannot be replayed later; event ids make a replay inside the window harmless too.
"""

from __future__ import annotations

from core.signing import digests_match, is_fresh, timestamped_hmac


def sign(*, secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + timestamped_hmac(secret, timestamp, body)


def signature_is_valid(
    *,
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    tolerance: int,
    now: float | None = None,
) -> bool:
    if not secret or not timestamp or not signature:
        return False
    if not is_fresh(timestamp, tolerance=tolerance, now=now):
        return False
    return digests_match(sign(secret=secret, timestamp=timestamp, body=body), signature)
