"""CORS on /xapi/: preflights for xAPI's headers, responses opened per credential's origins."""

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path
from django.urls import reverse as url_reverse

from analytics import auth
from analytics.models import XapiCredential
from tests.analytics.conftest import XapiClient
from tests.analytics.factories import StatementFactory, credential
from tests.concurrency import run_in_threads

pytestmark = pytest.mark.django_db

LMS = "https://lms.example"
OTHER = "https://elsewhere.example"
XAPI_HEADERS = ("Authorization", "Content-Type", "X-Experience-API-Version", "If-Match")
EXPOSED = (
    "ETag",
    "Last-Modified",
    "X-Experience-API-Consistent-Through",
    "X-Experience-API-Version",
)


def _document_view(request, **kwargs):
    """Stands for any xAPI view that authenticates through analytics.auth itself."""
    auth.authenticate(request.headers.get("Authorization", ""))
    response = HttpResponse("{}", content_type="application/json")
    response["ETag"] = '"abc"'
    return response


# This module doubles as a URLconf: the project's URLs plus one view under /xapi/ that does
# not set request.xapi_credential (pytest.mark.urls(__name__) below).
urlpatterns = [
    path("xapi/test-documents", _document_view),
    path("", include("config.urls")),
]


def _split(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(",")}


@pytest.fixture
def lms_client():
    cred, secret = credential(name="LMS", rate_per_minute=0, allowed_origins=[LMS])
    return XapiClient(cred.key, secret)


def _preflight(path, origin=LMS, method="PUT"):
    return Client().options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type,x-experience-api-version",
    )


# --- preflight --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/xapi/statements", "/xapi/about", "/xapi/activities/state", "/xapi/agents/profile"],
)
def test_a_preflight_on_any_xapi_path_allows_the_xapi_methods_and_headers(path):
    # when a browser asks before a cross-origin PUT (a preflight carries no credentials)
    response = _preflight(path)
    # then it is answered without authentication, whatever the path
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == LMS
    assert {"get", "post", "put", "delete", "head"} <= _split(
        response["Access-Control-Allow-Methods"]
    )
    assert {h.lower() for h in (*XAPI_HEADERS, "If-None-Match")} <= _split(
        response["Access-Control-Allow-Headers"]
    )
    assert int(response["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in response
    assert "origin" in _split(response["Vary"])


def test_a_plain_options_request_is_no_preflight_and_reaches_the_view():
    response = Client().options("/xapi/statements", HTTP_ORIGIN=LMS)
    assert "Access-Control-Allow-Methods" not in response


# --- actual requests --------------------------------------------------------------------


def test_a_listed_origin_may_read_the_response_with_the_xapi_headers_exposed(lms_client):
    # given a statement stored from the LMS's page
    posted = lms_client.post(StatementFactory(), headers={"Origin": LMS})
    assert posted.status_code == 200
    assert posted["Access-Control-Allow-Origin"] == LMS
    # when the page reads statements back
    response = lms_client.get(headers={"Origin": LMS})
    # then the browser may hand it the body and the xAPI headers
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == LMS
    assert {h.lower() for h in EXPOSED} <= _split(response["Access-Control-Expose-Headers"])
    assert "origin" in _split(response["Vary"])
    assert "Access-Control-Allow-Credentials" not in response


def test_an_origin_the_credential_does_not_list_gets_no_allow_origin(lms_client):
    response = lms_client.get(headers={"Origin": OTHER})
    # the request is served (CORS is the browser's to enforce), but not opened to the page
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Expose-Headers" not in response
    assert "origin" in _split(response["Vary"])


def test_an_origin_listed_by_another_credential_is_not_enough(lms_client):
    # given a second client without origins, and the LMS client listing LMS
    cred, secret = credential(name="Reporting", rate_per_minute=0)
    # when the second client's request comes from LMS's origin
    response = XapiClient(cred.key, secret).get(headers={"Origin": LMS})
    # then
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response


def test_a_wrong_secret_gets_no_allow_origin_even_for_a_listed_origin(lms_client):
    # the LMS's key, with a guessed secret
    cred = XapiCredential.objects.get(name="LMS")
    response = XapiClient(cred.key, "guess").get(headers={"Origin": LMS})
    assert response.status_code == 401
    assert "Access-Control-Allow-Origin" not in response


def test_a_request_without_origin_is_left_alone(lms_client):
    response = lms_client.get()
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response
    assert "Vary" not in response or "origin" not in _split(response["Vary"])


def test_origins_compare_normalized():
    # given an origin written with upper case, the default port and a trailing slash
    cred, secret = credential(rate_per_minute=0, allowed_origins=["HTTPS://LMS.Example:443/"])
    assert cred.allowed_origins == [LMS]
    # when the browser sends the canonical form
    response = XapiClient(cred.key, secret).get(headers={"Origin": LMS})
    # then
    assert response["Access-Control-Allow-Origin"] == LMS
    # and another scheme or port is another origin
    for origin in ("http://lms.example", "https://lms.example:8443", "null"):
        assert "Access-Control-Allow-Origin" not in XapiClient(cred.key, secret).get(
            headers={"Origin": origin}
        )


@pytest.mark.urls(__name__)
def test_any_view_that_authenticates_through_analytics_auth_gets_cors(lms_client):
    # when a document-style view (its own auth call, no request attribute) answers LMS's page
    response = lms_client.get(path="/xapi/test-documents", headers={"Origin": LMS})
    # then its response is opened to the listed origin, ETag exposed
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == LMS
    assert "etag" in _split(response["Access-Control-Expose-Headers"])
    # and not to another
    response = lms_client.get(path="/xapi/test-documents", headers={"Origin": OTHER})
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_of_two_credentials_never_borrow_each_others_origins():
    # given two clients, each listing only its own origin
    first = XapiClient(*_issued("First", "https://first.example"))
    second = XapiClient(*_issued("Second", "https://second.example"))

    def requests_from(client, own, foreign):
        seen = []
        for _ in range(15):
            mine = client.get(headers={"Origin": own})
            theirs = client.get(headers={"Origin": foreign})
            seen.append(
                (mine.get("Access-Control-Allow-Origin"), theirs.get("Access-Control-Allow-Origin"))
            )
        return seen

    # when both send requests at the same time, in threads
    results, errors = run_in_threads(
        lambda: requests_from(first, "https://first.example", "https://second.example"),
        lambda: requests_from(second, "https://second.example", "https://first.example"),
    )
    # then each is opened to its own origin only, every time
    assert errors == [None, None]
    assert set(results[0]) == {("https://first.example", None)}
    assert set(results[1]) == {("https://second.example", None)}


def _issued(name, origin):
    cred, secret = credential(name=name, rate_per_minute=0, allowed_origins=[origin])
    return cred.key, secret


# --- admin ------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, django_user_model):
    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-1!")
    client.force_login(admin_user)
    return client


def _change(admin_client, cred, origins):
    return admin_client.post(
        url_reverse("admin:analytics_xapicredential_change", args=[cred.pk]),
        {
            "name": cred.name,
            "scopes": cred.scopes,
            "rate_per_minute": cred.rate_per_minute,
            "burst": cred.burst,
            "allowed_origins": origins,
        },
    )


def test_origins_are_set_in_the_admin_and_apply_at_once(admin_client):
    # given a client in use, its credential cached by auth
    cred, secret = credential(name="LMS", rate_per_minute=0)
    client = XapiClient(cred.key, secret)
    assert "Access-Control-Allow-Origin" not in client.get(headers={"Origin": LMS})
    # when staff add the LMS's origin (one per line, any case)
    response = _change(admin_client, cred, "HTTPS://lms.example\n\n  http://localhost:8080 \n")
    # then it is stored normalized, and this process serves it at once
    assert response.status_code == 302
    cred.refresh_from_db()
    assert cred.allowed_origins == ["http://localhost:8080", LMS]
    assert client.get(headers={"Origin": LMS})["Access-Control-Allow-Origin"] == LMS
    page = admin_client.get(url_reverse("admin:analytics_xapicredential_change", args=[cred.pk]))
    assert "http://localhost:8080" in page.content.decode()


@pytest.mark.parametrize(
    "value", ["*", "https://lms.example/course", "lms.example", "ftp://lms.example", "https://*.x"]
)
def test_the_admin_refuses_what_is_not_an_origin(admin_client, value):
    cred, _secret = credential(name="LMS", rate_per_minute=0)
    response = _change(admin_client, cred, value)
    assert response.status_code == 200
    assert "is not an origin" in response.content.decode()
    cred.refresh_from_db()
    assert cred.allowed_origins == []
