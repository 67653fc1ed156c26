"""
The client's address, the one every throttle, lockout and log line keys on.

X-Forwarded-For is written by whoever sends the request, so only the entries appended by
our own proxies can be believed: with TRUSTED_PROXY_COUNT = N, the client is the N-th
address from the right (each proxy appends the address it received the request from);
with 0 (the default) the header is ignored and REMOTE_ADDR is the client. DRF's
NUM_PROXIES is set from the same setting, so DRF's throttles agree with this function.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def _valid(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_ip(request) -> str:
    """The client address of a Django or DRF request ("unknown" when there is none)."""
    meta = request.META
    remote = _valid(meta.get("REMOTE_ADDR") or "") or "unknown"
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        # Fewer hops than proxies declared: the request did not come through all of them,
        # so nothing in the header is ours to trust.
        return remote
    return _valid(forwarded[-proxies]) or remote


def axes_client_ip(request) -> str | None:
    """`client_ip` for django-axes, which stores the address in an IP field (None: none)."""
    address = client_ip(request)
    return None if address == "unknown" else address
