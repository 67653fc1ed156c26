import re

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import Throttled

from core.api.exceptions import exception_handler
from core.errors import ConflictError, DomainError


@pytest.mark.django_db
def test_anonymous_api_call_gets_401_json(api_client):
    response = api_client.get("/api/v1/auth/whoami/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_bad_payload_gets_400_with_field_errors(api_client):
    response = api_client.post("/api/v1/auth/token/", {"username": ""}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["errors"]) == {"username", "password"}


@pytest.mark.django_db
def test_jwt_obtain_refresh_verify_and_use(api_client, user):
    tokens = api_client.post(
        "/api/v1/auth/token/",
        {"username": "associate", "password": "s3cret-pass-123"},
        format="json",
    ).json()
    assert (
        api_client.post("/api/v1/auth/token/verify/", {"token": tokens["access"]}).status_code
        == 200
    )
    refreshed = api_client.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert refreshed.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    me = api_client.get("/api/v1/auth/whoami/").json()
    assert me["username"] == "associate"
    assert me["is_staff"] is False


@pytest.mark.django_db
def test_wrong_password_is_401_not_500(api_client, user):
    response = api_client.post(
        "/api/v1/auth/token/", {"username": "associate", "password": "nope"}, format="json"
    )
    assert response.status_code == 401


@pytest.mark.django_db
def test_garbage_token_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    assert api_client.get("/api/v1/auth/whoami/").status_code == 401


@pytest.mark.django_db
def test_malformed_json_body_is_400(api_client):
    response = api_client.generic(
        "POST", "/api/v1/auth/token/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_domain_errors_keep_their_code_status_and_details():
    class GiftCardExpiredError(DomainError):
        code = "gift_card_expired"
        status_code = 422

    response = exception_handler(GiftCardExpiredError("Card expired.", expired_on="2026-01-01"), {})
    assert response.status_code == 422
    assert response.data == {
        "code": "gift_card_expired",
        "message": "Card expired.",
        "details": {"expired_on": "2026-01-01"},
    }
    assert exception_handler(ConflictError(), {}).status_code == 409


def test_retry_after_from_a_domain_error_becomes_a_header():
    response = exception_handler(DomainError("slow down", code="rate_limited", retry_after=12), {})
    assert response["Retry-After"] == "12"


def test_django_validation_error_becomes_400_with_fields():
    exc = DjangoValidationError({"email": ["Enter a valid email address."]})
    response = exception_handler(exc, {})
    assert response.status_code == 400
    assert response.data["errors"] == {"email": ["Enter a valid email address."]}


def test_throttled_keeps_429_and_retry_after():
    response = exception_handler(Throttled(wait=30), {})
    assert response.status_code == 429
    assert response.data["code"] == "throttled"
    assert response["Retry-After"] == "30"


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/auth/token/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200


@pytest.mark.django_db
def test_docs_page_loads_every_asset_locally(client):
    html = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, "the docs page references its scripts and styles"
    assert not [a for a in assets if a.startswith(("http:", "https:", "//"))]
    scripts = [a for a in assets if "swagger-ui-dist" in a]
    assert any("swagger-ui-bundle" in a for a in scripts)
    assert any("swagger-ui" in a and a.endswith(".css") for a in scripts)
    for asset in scripts:
        assert client.get(asset).status_code == 200, asset
