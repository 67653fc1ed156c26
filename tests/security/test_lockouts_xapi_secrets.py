"""Wrong xAPI secrets lock out the key and the client address; staff list and lift them."""

import pytest

from analytics import auth
from core.lockouts import active_lockouts
from tests.analytics.conftest import XapiClient
from tests.analytics.factories import credential

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_credentials(settings):
    settings.XAPI_LOCKOUT_THRESHOLD = 5
    settings.XAPI_ADDRESS_LOCKOUT_THRESHOLD = 8
    auth.forget()
    yield
    auth.forget()


def _client(key, secret, address="198.51.100.50"):
    client = XapiClient(key, secret)
    client.headers["REMOTE_ADDR"] = address
    return client


def test_wrong_secrets_lock_the_key_even_across_addresses():
    cred, secret = credential(name="LMS", rate_per_minute=0)
    statuses = [
        _client(cred.key, f"wrong-{n}", address=f"198.51.100.{60 + n}").get().status_code
        for n in range(6)
    ]
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    # the right secret is refused while the key is locked
    locked = _client(cred.key, secret, address="198.51.100.99").get()
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    assert locked.json()["code"] == "too_many_failures"


def test_wrong_secrets_lock_the_address_across_keys():
    cred, secret = credential(name="LMS", rate_per_minute=0)
    for n in range(8):
        _client(f"guessed-key-{n}", "x", address="198.51.100.70").get()
    assert _client(cred.key, secret, address="198.51.100.70").get().status_code == 429
    assert _client(cred.key, secret, address="198.51.100.71").get().status_code == 200


def test_a_rotating_forwarded_for_does_not_escape_the_address_lockout():
    cred, secret = credential(name="LMS", rate_per_minute=0)
    for n in range(8):
        client = _client(f"guessed-key-{n}", "x", address="198.51.100.72")
        client.get(headers={"X-Forwarded-For": f"203.0.113.{n}"})
    assert _client(cred.key, secret, address="198.51.100.72").get().status_code == 429


def test_unknown_keys_get_the_same_answers_as_known_ones():
    cred, _ = credential(name="LMS", rate_per_minute=0)
    known = [_client(cred.key, "x", address="198.51.100.80").get() for _ in range(6)]
    unknown = [_client("no-such-key", "x", address="198.51.100.81").get() for _ in range(6)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown]


def test_staff_list_and_lift_xapi_lockouts_in_the_admin(admin_client):
    cred, secret = credential(name="LMS", rate_per_minute=0)
    for _ in range(5):
        _client(cred.key, "wrong").get()
    [lockout] = [lo for lo in active_lockouts() if lo.name == "xapi.key"]
    page = admin_client.get("/admin/lockouts/")
    assert page.status_code == 200 and cred.key in page.content.decode()
    # when staff lift it
    lifted = admin_client.post("/admin/lockouts/", {"lockout": lockout.member})
    # then the client signs in again
    assert lifted.status_code == 302
    assert _client(cred.key, secret, address="198.51.100.51").get().status_code == 200
    assert not [lo for lo in active_lockouts() if lo.name == "xapi.key"]


def test_the_lockouts_page_needs_the_lockout_permissions(make_account, client):
    staff = make_account()
    client.force_login(staff)
    assert client.get("/admin/lockouts/").status_code == 403
    viewer = make_account("axes.view_accessattempt")
    client.force_login(viewer)
    assert client.get("/admin/lockouts/").status_code == 200
    assert client.post("/admin/lockouts/", {"lockout": "xapi.key|key:x"}).status_code == 403
