"""
Basic auth for xAPI clients, cheap on the hot path.

A credential is looked up once and kept in this process for XAPI_CREDENTIAL_CACHE_SECONDS;
the secret check is one HMAC-SHA256 and a constant-time compare. Revoking clears this
process's entry at once; other processes drop it within the cache window.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from analytics.errors import CredentialInvalidError
from analytics.models import XapiCredential
from core.resilience import RateLimiter, RateLimitExceeded


@dataclass(frozen=True)
class _Entry:
    credential: XapiCredential | None
    loaded_at: float


_cache: dict[str, _Entry] = {}
_lock = threading.Lock()
_limiters: dict[tuple[int, int], RateLimiter] = {}


def forget(key: str | None = None) -> None:
    with _lock:
        if key is None:
            _cache.clear()
        else:
            _cache.pop(key, None)


def _load(key: str) -> XapiCredential | None:
    now = time.monotonic()
    entry = _cache.get(key)
    if entry is not None and now - entry.loaded_at < settings.XAPI_CREDENTIAL_CACHE_SECONDS:
        return entry.credential
    credential = XapiCredential.objects.filter(key=key, is_active=True).first()
    if credential is not None:
        # Coarse usage stamp, written at most once per cache window per process.
        XapiCredential.objects.filter(pk=credential.pk).update(last_used_at=timezone.now())
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[key] = _Entry(credential=credential, loaded_at=now)
    return credential


def authenticate(authorization: str) -> XapiCredential:
    """The active credential named by an `Authorization: Basic …` header, or 401."""
    from analytics.services import secret_digest

    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise CredentialInvalidError()
    try:
        key, sep, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise CredentialInvalidError() from exc
    if not sep or not key:
        raise CredentialInvalidError()
    credential = _load(key)
    if credential is None or not hmac.compare_digest(credential.secret_hash, secret_digest(secret)):
        raise CredentialInvalidError()
    return credential


def check_rate(credential: XapiCredential) -> None:
    """Raise RateLimitExceeded (429 with Retry-After) when the client is over its rate."""
    if not credential.rate_per_minute:
        return
    shape = (credential.rate_per_minute, max(credential.burst, 1))
    limiter = _limiters.get(shape)
    if limiter is None:
        limiter = _limiters.setdefault(
            shape, RateLimiter(name="xapi", rate=shape[0], per=60.0, burst=shape[1])
        )
    allowed, wait = limiter.try_acquire(credential.key)
    if not allowed:
        raise RateLimitExceeded(
            "This client is over its request rate.", retry_after=max(1, int(wait + 0.999))
        )
