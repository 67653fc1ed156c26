"""DRF throttles keyed on `core.net.client_ip`, so no throttle trusts a spoofed header."""

from rest_framework import throttling

from core.net import client_ip


class ClientIpMixin:
    def get_ident(self, request) -> str:
        return client_ip(request)


class AnonRateThrottle(ClientIpMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(ClientIpMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(ClientIpMixin, throttling.ScopedRateThrottle):
    pass
