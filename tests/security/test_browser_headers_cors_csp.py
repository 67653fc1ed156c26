"""CORS on /api/ for the configured origins only; a Content-Security-Policy on the pages."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example"


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


@pytest.fixture
def shop_allowed(settings):
    settings.CORS_ALLOWED_ORIGINS = [SHOP]


def preflight(client, path, origin=SHOP):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )


# --- CORS -------------------------------------------------------------------------------


def test_no_origin_is_allowed_by_default(client, settings):
    assert settings.CORS_ALLOWED_ORIGINS == []
    response = preflight(client, "/api/v1/auth/token/")
    assert "access-control-allow-origin" not in response.headers
    assert (
        "access-control-allow-origin"
        not in client.get("/api/v1/auth/whoami/", HTTP_ORIGIN=SHOP).headers
    )


def test_a_configured_origin_may_call_the_api(client, shop_allowed):
    # when
    response = preflight(client, "/api/v1/auth/token/")
    # then: the preflight allows the method and headers
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "authorization" in response["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response
    # and the real call carries the origin and the headers a client needs to read
    call = client.get("/api/v1/auth/whoami/", HTTP_ORIGIN=SHOP)
    assert call.status_code == 401
    assert call["Access-Control-Allow-Origin"] == SHOP
    assert {"retry-after", "x-request-id"} <= {
        h.strip().lower() for h in call["Access-Control-Expose-Headers"].split(",")
    }


def test_an_input_refusal_is_readable_cross_origin(client, shop_allowed):
    response = client.get("/api/v1/auth/whoami/?q=%00", HTTP_ORIGIN=SHOP)
    assert response.status_code == 400
    assert response["Access-Control-Allow-Origin"] == SHOP


def test_other_origins_and_other_paths_get_no_cors(client, shop_allowed):
    assert (
        "access-control-allow-origin"
        not in preflight(client, "/api/v1/auth/token/", origin="https://evil.example").headers
    )
    for path in ("/xapi/statements", "/admin/login/", "/webhooks/orders/", "/healthz"):
        response = client.get(path, HTTP_ORIGIN=SHOP)
        assert "access-control-allow-origin" not in response.headers, path


# --- Content-Security-Policy -----------------------------------------------------------


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


INLINE_STYLE = re.compile(r"<style[\s>]|\sstyle=\"", re.IGNORECASE)
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)


def assert_strict_policy_and_no_inline_code(response, *, own_templates_only: bool = False):
    policy = _policy(response)
    for directive in ("script-src", "style-src"):
        assert policy[directive] == ["'self'"], (directive, policy)
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    html = response.content.decode()
    for attributes in SCRIPT_TAG.findall(html):
        # External files, or data blocks the browser never runs (json_script).
        assert "src=" in attributes or 'type="application/json"' in attributes, attributes
    if own_templates_only:
        assert not INLINE_STYLE.search(html), INLINE_STYLE.search(html)


def test_the_admin_login_page_has_the_policy(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert_strict_policy_and_no_inline_code(response)


def test_the_dashboard_has_the_policy_and_no_inline_script_or_style(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert b"chartjs/chart.umd.min." in response.content  # the vendored copy, no CDN
    assert_strict_policy_and_no_inline_code(response, own_templates_only=True)


def test_the_answer_page_has_the_policy_and_its_css_in_a_file(client):
    response = client.get("/answer/not-a-real-token")
    assert response.status_code in (400, 404, 410)
    assert_strict_policy_and_no_inline_code(response, own_templates_only=True)
    assert b"/static/frontline/answer." in response.content


def test_error_pages_keep_their_css_in_a_file(client):
    response = client.get("/no-such-page/", HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert_strict_policy_and_no_inline_code(response, own_templates_only=True)


def test_the_api_docs_are_left_out_of_the_policy(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert "Content-Security-Policy" not in response
