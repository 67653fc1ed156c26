"""
HMAC authentication of the orders service's webhook.

    X-Frontline-Timestamp: <unix seconds>
    X-Frontline-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

The timestamp is inside the MAC and must be within the tolerance, so a captured request
cannot be replayed later; event ids make a replay inside the window harmless too.
"""

from __future__ import annotations

import hashlib
import hmac
import time


def sign(*, secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


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
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - sent_at) > tolerance:
        return False
    return hmac.compare_digest(sign(secret=secret, timestamp=timestamp, body=body), signature)
