import base64
import json

import pytest
from django.test import Client

from analytics import auth
from tests.analytics.factories import credential

# Scheduled reports: the test-only report, a media root per test, and every channel pointed
# at tests/delivery's local servers (fake Slack, SMTP sink, webhook receiver).
from tests.analytics.scheduled_reports_support import (  # noqa: F401
    media,
    report_channels,
    sales_report,
)
from tests.delivery.conftest import live_receiver, providers, smtp_sink  # noqa: F401


@pytest.fixture(autouse=True)
def _forget_credentials():
    auth.forget()
    yield
    auth.forget()


class XapiClient:
    """A test client that speaks xAPI: version header, Basic auth, JSON bodies."""

    def __init__(self, key: str, secret: str, version: str | None = "1.0.3"):
        self.client = Client()
        self.headers = {
            "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
        }
        if version:
            self.headers["HTTP_X_EXPERIENCE_API_VERSION"] = version

    def _headers(self, extra):
        headers = dict(self.headers)
        for name, value in (extra or {}).items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if value is None:
                headers.pop(key, None)
            else:
                headers[key] = value
        return headers

    def post(self, body, *, headers=None, path="/xapi/statements"):
        return self.client.post(
            path, data=json.dumps(body), content_type="application/json", **self._headers(headers)
        )

    def put(self, statement_id, body, *, headers=None):
        return self.client.put(
            f"/xapi/statements?statementId={statement_id}",
            data=json.dumps(body),
            content_type="application/json",
            **self._headers(headers),
        )

    def get(self, params=None, *, headers=None, path="/xapi/statements"):
        return self.client.get(path, params or {}, **self._headers(headers))


@pytest.fixture
def xapi_credential(db):
    return credential(name="Moodle", rate_per_minute=0)


@pytest.fixture
def xapi(xapi_credential) -> XapiClient:
    cred, secret = xapi_credential
    return XapiClient(cred.key, secret)


@pytest.fixture(params=["insert", "copy"])
def ingest_path(request, settings):
    """Run a test through each autocommit fast path of statements_store (INSERT, COPY)."""
    settings.XAPI_COPY_MIN_BATCH = 1 if request.param == "copy" else 1_000_000
    return request.param
