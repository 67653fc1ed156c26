"""
Basic auth for xAPI clients, cheap on the hot path.

A credential is looked up once and kept in this process for XAPI_CREDENTIAL_CACHE_SECONDS;
the secret check is one HMAC-SHA256 and a constant-time compare. Revoking clears this
process's entry at once; other processes drop it within the cache window.

Wrong secrets count towards lockouts of the key and, separately, of the client address
(XAPI_LOCKOUT_THRESHOLD within XAPI_LOCKOUT_WINDOW_SECONDS): a locked key or address gets
429 with Retry-After, correct secret or not, for XAPI_LOCKOUT_SECONDS. Unknown keys count
the same, so the answer never tells whether a key exists.

Inside `authenticated_scope()` (analytics.cors opens one around every /xapi/ request), the
credential that `authenticate()` accepted is kept for the code around the view, whichever
view authenticated it: CORS opens a response only to the origins of that credential.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from analytics.errors import CredentialInvalidError, CredentialLockedError
from analytics.models import XapiCredential
from core.lockouts import Lockout, retry_after_any
from core.resilience import RateLimiter, RateLimitExceeded


@dataclass(frozen=True)
class _Entry:
    credential: XapiCredential | None
    loaded_at: float


_cache: dict[str, _Entry] = {}
_lock = threading.Lock()
_limiters: dict[tuple[int, int], RateLimiter] = {}


@dataclass
class Authenticated:
    """What `authenticate()` accepted inside one `authenticated_scope()` (None: nothing)."""

    credential: XapiCredential | None = None


_authenticated: ContextVar[Authenticated | None] = ContextVar("xapi_authenticated", default=None)


@contextmanager
def authenticated_scope() -> Iterator[Authenticated]:
    """Collect the credential `authenticate()` accepts until the block ends (one request;
    per thread, so gunicorn's threads never see each other's)."""
    holder = Authenticated()
    token = _authenticated.set(holder)
    try:
        yield holder
    finally:
        _authenticated.reset(token)


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


def _lockouts() -> list[Lockout]:
    window, seconds = settings.XAPI_LOCKOUT_WINDOW_SECONDS, settings.XAPI_LOCKOUT_SECONDS
    return [
        Lockout("xapi.key", settings.XAPI_LOCKOUT_THRESHOLD, window, seconds),
        Lockout("xapi.address", settings.XAPI_ADDRESS_LOCKOUT_THRESHOLD, window, seconds),
    ]


def authenticate(authorization: str, *, address: str = "unknown") -> XapiCredential:
    """The active credential named by an `Authorization: Basic …` header, or 401; 429 while
    the key or the client `address` is locked out after wrong secrets."""
    key_lockout, address_lockout = _lockouts()
    address_subject = [f"ip:{address}"]
    try:
        credential = _authenticate(
            authorization, key_lockout=key_lockout, address_check=(address_lockout, address_subject)
        )
    except CredentialInvalidError:
        address_lockout.record_failure(address_subject)
        raise
    holder = _authenticated.get()
    if holder is not None:
        holder.credential = credential
    return credential


def _authenticate(
    authorization: str, *, key_lockout: Lockout, address_check: tuple[Lockout, list[str]]
) -> XapiCredential:
    from analytics.services import secret_digest

    def ensure_open(*checks) -> None:
        retry_after = retry_after_any([address_check, *checks])
        if retry_after:
            raise CredentialLockedError(retry_after=retry_after)

    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        ensure_open()
        raise CredentialInvalidError()
    try:
        key, sep, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        ensure_open()
        raise CredentialInvalidError() from exc
    if not sep or not key:
        ensure_open()
        raise CredentialInvalidError()
    key_subject = [f"key:{key[:64]}"]
    ensure_open((key_lockout, key_subject))
    credential = _load(key)
    if credential is None or not hmac.compare_digest(credential.secret_hash, secret_digest(secret)):
        key_lockout.record_failure(key_subject)
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
