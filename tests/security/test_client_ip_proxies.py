"""The client address: X-Forwarded-For is believed only through the declared proxies."""

import pytest
from django.test import RequestFactory
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from core.net import client_ip

pytestmark = pytest.mark.django_db


def _request(remote="198.51.100.7", forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(_request(forwarded="203.0.113.9")) == "198.51.100.7"


def test_behind_one_proxy_the_last_hop_is_the_client(settings):
    # given a client that sends its own (forged) header through our one proxy
    settings.TRUSTED_PROXY_COUNT = 1
    request = _request(remote="10.0.0.2", forwarded="6.6.6.6, 203.0.113.9")
    # then only the address our proxy appended counts
    assert client_ip(request) == "203.0.113.9"


def test_behind_two_proxies_the_second_from_the_right_is_the_client(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    request = _request(remote="10.0.0.3", forwarded="6.6.6.6, 203.0.113.9, 10.0.0.2")
    assert client_ip(request) == "203.0.113.9"


def test_fewer_hops_than_proxies_falls_back_to_the_peer(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(_request(forwarded="203.0.113.9")) == "198.51.100.7"


def test_a_garbage_header_entry_falls_back_to_the_peer(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(_request(forwarded="not-an-address")) == "198.51.100.7"


def test_drf_num_proxies_comes_from_the_same_setting(settings):
    assert api_settings.NUM_PROXIES == settings.TRUSTED_PROXY_COUNT == 0


def test_axes_uses_the_same_address_function(settings):
    from axes.helpers import get_client_ip_address

    request = _request(forwarded="203.0.113.9")
    assert get_client_ip_address(request) == "198.51.100.7" == client_ip(request)


def _register(client, n, forwarded):
    return client.post(
        "/api/v1/learners/register/",
        {"employee_id": f"E{n:05d}"},
        format="json",
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def test_registration_limit_holds_against_a_rotating_forwarded_for(settings):
    # given the seed's 5 sign-ups per hour per address (the default)
    assert api_settings.DEFAULT_THROTTLE_RATES["registration"] == "5/hour"
    client = APIClient(REMOTE_ADDR="198.51.100.20")
    # when one address sends 7 sign-ups, each claiming another origin
    statuses = [_register(client, n, f"203.0.113.{n}").status_code for n in range(7)]
    # then the sixth and seventh are throttled whatever the header says
    assert all(status != 429 for status in statuses[:5])
    assert statuses[5:] == [429, 429]
    # and another real address still may
    assert _register(APIClient(REMOTE_ADDR="198.51.100.21"), 99, "").status_code != 429
