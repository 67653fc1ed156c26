"""Malformed input is a 400 everywhere, from one middleware (core.input), never a 500."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from core.input import json_depth

pytestmark = pytest.mark.django_db

XAPI = {"HTTP_X_EXPERIENCE_API_VERSION": "1.0.3"}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


def assert_json_400(response, reason: str, *, field: str = "non_field_errors"):
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    xapi = response.wsgi_request.path.startswith("/xapi/")
    assert body["code"] == ("invalid_request" if xapi else "invalid") and body["message"]
    assert body["details"] == {"reason": reason}
    assert body["errors"] == {field: [body["message"]]}
    return body


# --- NUL characters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/whoami/%00",
        "/api/v1/gift-cards/%00/",
        "/webhooks/orders/%00",
        "/xapi/statements%00",
    ],
)
def test_a_nul_in_an_api_path_is_a_json_400(client, path):
    assert_json_400(client.get(path), "null_character")


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/whoami/?q=%00", "/xapi/statements?agent=%00", "/healthz?x=a%00b"]
)
def test_a_nul_in_the_query_string_is_a_400(client, path):
    response = client.get(path, **XAPI)
    assert response.status_code == 400


def test_a_nul_in_a_page_path_or_form_gets_the_400_page(client):
    for response in (
        client.get("/admin/login/%00"),
        client.post(
            "/admin/login/",
            "username=a%00b&password=x",
            content_type="application/x-www-form-urlencoded",
        ),
        client.post("/admin/login/", {"username": "a\x00b", "password": "x"}),  # multipart
    ):
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/html")
        assert b"Bad request" in response.content


@pytest.mark.parametrize(
    "body, field",
    [
        ('{"username": "a\\u0000b", "password": "x"}', "username"),
        ('{"username": "ab", "password": ["x\\\\\\u0000"]}', "password"),
        ('{"username": "a\x00b", "password": "x"}', "non_field_errors"),  # not even JSON
        ('["a\\u0000"]', "non_field_errors"),
    ],
)
def test_a_nul_in_a_json_body_is_a_json_400_naming_the_field(client, body, field):
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    assert_json_400(response, "null_character", field=field)


def test_an_escaped_backslash_before_u0000_is_not_a_nul(client):
    body = '{"username": "a\\\\u0000b", "password": "x"}'  # the text \u0000, not a NUL
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 401
    assert json.loads(body)["username"] == "a\\u0000b"


def test_a_nul_in_a_webhook_form_is_a_json_400(client):
    response = client.post(
        "/webhooks/twilio/sms",
        "From=%2B15550001111&Body=1%00",
        content_type="application/x-www-form-urlencoded",
    )
    assert_json_400(response, "null_character", field="Body")


# --- over-deep JSON ---------------------------------------------------------------------


def test_4kb_of_nested_json_to_the_token_endpoint_is_a_400(client):
    body = '{"username": ' + nested(2048) + ', "password": "x"}'
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    assert_json_400(response, "too_deep")


def test_json_at_the_depth_limit_reaches_the_view(client, settings):
    body = '{"username": ' + nested(settings.REQUEST_MAX_JSON_DEPTH - 1) + ', "password": "x"}'
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"  # the serializer's refusal, not the gate's


def test_brackets_inside_strings_do_not_count(client):
    body = json.dumps({"username": "[" * 500, "password": "{" * 500})
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 401


def test_over_deep_xapi_statements_get_an_xapi_400(client):
    statement = {"actor": {"mbox": "mailto:a@example.com"}, "verb": {"id": "http://x/v"}}
    body = json.dumps(statement)[:-1] + ', "object": ' + nested(100) + "}"
    response = client.post("/xapi/statements", body, content_type="application/json", **XAPI)
    assert_json_400(response, "too_deep")
    assert response["X-Experience-API-Version"] == "1.0.3"


def test_over_deep_json_in_an_xapi_query_parameter_is_a_400(client):
    response = client.get("/xapi/statements", {"agent": nested(3000)}, **XAPI)
    assert_json_400(response, "too_deep", field="agent")
    assert response["X-Experience-API-Version"] == "1.0.3"


def test_over_deep_json_to_the_order_webhook_is_a_400(client):
    response = client.post("/webhooks/orders/", nested(64), content_type="application/json")
    assert_json_400(response, "too_deep")


def test_json_depth_counts_brackets_outside_strings_without_recursion():
    assert json_depth("{}") == 1
    assert json_depth('{"a": [1, {"b": "]]]]"}]}') == 3
    assert json_depth('"\\"[[["') == 0
    assert json_depth(nested(100_000)) == 100_000


def test_json_depth_is_the_same_with_and_without_escapes_in_the_text():
    # without a backslash, and with every string closed, strings are cut out by quotes
    assert json_depth('[{"a": "[[[{{{"}, ["}}}"]]') == 2
    # with escapes, or a string left open, the string pattern decides
    assert json_depth('[{"a": "\\"[[[{{{"}, ["}}}\\\\"]]') == 2
    assert json_depth('[{"a": "b"}, "[[[[') == 5
    assert json_depth('[1, "x" [[[') == 4


# --- invalid UTF-8 ------------------------------------------------------------------------


def test_invalid_utf8_in_the_path_or_query_is_a_json_400(client):
    assert_json_400(client.get("/api/v1/auth/whoami/%FF"), "invalid_encoding")
    query = client.get("/api/v1/auth/whoami/?q=%C3%28")
    assert_json_400(query, "invalid_encoding", field="q")


def test_invalid_utf8_in_a_json_body_is_a_json_400(client):
    body = b'{"username": "\xff\xfe", "password": "x"}'
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    assert_json_400(response, "invalid_encoding")


def test_invalid_utf8_in_an_xapi_body_keeps_the_xapi_header(client):
    response = client.post(
        "/xapi/statements", b"[\xc3\x28]", content_type="application/json", **XAPI
    )
    assert_json_400(response, "invalid_encoding")
    assert response["X-Experience-API-Version"] == "1.0.3"


def test_ordinary_unicode_passes(client):
    body = json.dumps({"username": "Zoë 東京 🎁", "password": "x"})
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 401
    assert client.get("/healthz?name=Zo%C3%AB").status_code in (200, 503)


def test_a_malformed_multipart_body_is_a_400_not_a_500(client):
    response = client.post(
        "/api/v1/auth/token/",
        b"--nope\r\nContent-Disposition: form-data\r\n\r\nx",
        content_type="multipart/form-data; boundary=",
    )
    assert response.status_code == 400
