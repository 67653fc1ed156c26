"""Basic auth per client credential, revocation, and the per-credential rate limit."""

import base64

import pytest
from django.test import Client

from analytics import auth
from analytics.models import Statement, XapiCredential
from analytics.services import secret_digest, xapi_credential_revoke
from tests.analytics.conftest import XapiClient
from tests.analytics.factories import StatementFactory, credential

pytestmark = pytest.mark.django_db


def test_no_credentials_is_401_with_a_challenge():
    response = Client().get("/xapi/statements", HTTP_X_EXPERIENCE_API_VERSION="1.0.3")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert response["X-Experience-API-Version"] == "1.0.3"


def test_wrong_secret_is_401(xapi_credential):
    cred, _secret = xapi_credential
    response = XapiClient(cred.key, "guess").post(StatementFactory())
    assert response.status_code == 401
    assert Statement.objects.count() == 0


def test_malformed_authorization_header_is_401():
    for header in ("Basic !!!", "Bearer abc", "Basic " + base64.b64encode(b"nocolon").decode()):
        response = Client().get(
            "/xapi/statements", HTTP_X_EXPERIENCE_API_VERSION="1.0.3", HTTP_AUTHORIZATION=header
        )
        assert response.status_code == 401


def test_the_secret_is_stored_only_as_a_digest(xapi_credential):
    cred, secret = xapi_credential
    stored = XapiCredential.objects.get(pk=cred.pk)
    assert secret not in stored.secret_hash
    assert stored.secret_hash == secret_digest(secret)


def test_revoked_credential_is_refused(xapi, xapi_credential):
    assert xapi.get().status_code == 200
    xapi_credential_revoke(credential=xapi_credential[0])
    # the revoking process forgets at once; other processes within the cache window
    auth.forget()
    assert xapi.get().status_code == 401


def test_verified_credential_is_cached_so_requests_do_not_reload_it(xapi):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert xapi.get({"statementId": "9b3f6f5a-4e8c-4a77-8d0c-3c8f5e2b1a10"}).status_code == 404
    # the statement lookup and Consistent-Through; no credential query on the hot path
    with CaptureQueriesContext(connection) as queries:
        xapi.get({"statementId": "9b3f6f5a-4e8c-4a77-8d0c-3c8f5e2b1a10"})
    assert len(queries) == 2
    assert not [q for q in queries if "analytics_xapicredential" in q["sql"]]


def test_over_the_rate_is_429_with_retry_after_and_stores_nothing(redis_client):
    # given a client allowed 2 requests back to back, then 1 a minute
    cred, secret = credential(name="Chatty", rate_per_minute=1, burst=2)
    client = XapiClient(cred.key, secret)
    assert client.post(StatementFactory()).status_code == 200
    assert client.post(StatementFactory()).status_code == 200
    # when it sends a third at once
    statement = StatementFactory()
    response = client.post(statement)
    # then
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert not Statement.objects.filter(pk=statement["id"]).exists()


def test_rate_limits_are_per_credential(redis_client):
    slow, slow_secret = credential(name="Slow", rate_per_minute=1, burst=1)
    other, other_secret = credential(name="Other", rate_per_minute=1, burst=1)
    assert XapiClient(slow.key, slow_secret).get().status_code == 200
    assert XapiClient(slow.key, slow_secret).get().status_code == 429
    assert XapiClient(other.key, other_secret).get().status_code == 200
