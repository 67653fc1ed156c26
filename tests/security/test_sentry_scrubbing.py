"""Errors reach Sentry when SENTRY_DSN is set, with no code or token in the event."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from core.logging import REDACTED
from core.sentry import before_send
from gift_cards import codes

ROOT = Path(__file__).resolve().parents[2]
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.c2lnbmF0dXJlLWhlcmU"


def test_before_send_scrubs_every_part_of_an_event():
    # given: an event as the Django integration builds it, secrets everywhere
    code = codes.CodeGenerator().generate()
    event = {
        "message": f"redeem failed for {code}",
        "exception": {
            "values": [
                {
                    "type": "ValueError",
                    "value": f"bad card {code}",
                    "stacktrace": {
                        "frames": [
                            {
                                "function": "redeem",
                                "vars": {"code": code, "token": "abc123", "amount": "10.00"},
                            }
                        ]
                    },
                }
            ]
        },
        "breadcrumbs": {"values": [{"message": f"POST body password=hunter2&code={code}"}]},
        "request": {
            "url": "https://frontline.example/answer/?code=one-time",
            "headers": {"Authorization": f"Bearer {JWT}", "Accept": "application/json"},
            "data": {"code": code, "order_id": "ORD-1"},
        },
        "extra": {"deep": [[[[[[[[[[[{"args": f"({code!r},)"}]]]]]]]]]]]},
    }
    # when
    cleaned = before_send(event, {})
    # then
    text = json.dumps(cleaned)
    for secret in (code, "abc123", "hunter2", JWT, "one-time"):
        assert secret not in text, secret
    frame = cleaned["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert frame["vars"]["amount"] == "10.00" and frame["function"] == "redeem"
    assert cleaned["request"]["headers"]["Accept"] == "application/json"
    assert cleaned["request"]["data"] == {"code": REDACTED, "order_id": "ORD-1"}


class _SentryIngest(BaseHTTPRequestHandler):
    envelopes: list[bytes] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.envelopes.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def test_an_error_with_sentry_dsn_set_arrives_scrubbed(tmp_path):
    # given: a local ingest endpoint and the settings module reading SENTRY_DSN
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SentryIngest)
    _SentryIngest.envelopes = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    code = codes.CodeGenerator().generate()
    script = (
        "import django, logging, sentry_sdk; django.setup()\n"
        "from django.conf import settings\n"
        "assert settings.SENTRY_DSN\n"
        "client = sentry_sdk.get_client()\n"
        "assert client.options['send_default_pii'] is False\n"
        "names = sorted(client.integrations)\n"
        "assert 'django' in names and 'celery' in names, names\n"
        "try:\n"
        f"    token = {JWT!r}\n"
        f"    raise ValueError('card {code} refused')\n"
        "except ValueError:\n"
        "    sentry_sdk.capture_exception()\n"
        f"logging.getLogger('gift_cards').error('lookup of {code} failed')\n"
        "sentry_sdk.flush(10)\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SENTRY_DSN": f"http://publickey@127.0.0.1:{server.server_port}/42",
        "SENTRY_ENVIRONMENT": "test",
    }
    try:
        # when
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.shutdown()
        server.server_close()
    # then: both events arrived, neither holds the code or the token
    assert result.returncode == 0, result.stderr[-2000:]
    received = b"\n".join(_SentryIngest.envelopes).decode()
    events = [
        json.loads(line)
        for line in received.splitlines()
        if line.startswith("{") and ('"exception"' in line or '"logentry"' in line)
    ]
    assert len(events) >= 2, received[:2000]
    assert "ValueError" in received and "[redacted]" in received
    assert code not in received and codes.parse(code).body[:8] not in received
    assert JWT not in received
