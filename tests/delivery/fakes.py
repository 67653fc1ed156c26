"""
Local stand-ins for the providers, on 127.0.0.1, answering like the real APIs.

`FakeProviders` serves Slack's Web API (`/api/chat.postMessage`, `/api/chat.update`) and
Twilio's Messages resource (`/2010-04-01/Accounts/<sid>/Messages.json`). Tests script
failures with `fail_next(...)` and count what was accepted in `accepted`.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

SLACK_TOKEN = "xoxb-test-token"
TWILIO_SID = "AC" + "0" * 31 + "1"
TWILIO_TOKEN = "twilio-test-token"

# kind -> (HTTP status, Slack body, extra headers)
_SLACK_FAILURES = {
    "ratelimited": (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"}),
    "server_error": (500, None, {}),
    "invalid_auth": (200, {"ok": False, "error": "invalid_auth"}, {}),
    "channel_not_found": (200, {"ok": False, "error": "channel_not_found"}, {}),
    "missing_scope": (200, {"ok": False, "error": "missing_scope"}, {}),
    "invalid_blocks": (200, {"ok": False, "error": "invalid_blocks"}, {}),
}
# kind -> (HTTP status, Twilio error code, message, extra headers)
_TWILIO_FAILURES = {
    "rate_limited": (429, 20429, "Too Many Requests", {"Retry-After": "12"}),
    "server_error": (500, 20500, "Internal Server Error", {}),
    "auth": (401, 20003, "Authenticate", {}),
    "invalid_to": (400, 21211, "The 'To' number is not a valid phone number.", {}),
    "unsubscribed": (400, 21610, "Attempt to send to unsubscribed recipient", {}),
}


class FakeProviders:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.accepted: list[dict] = []
        self._failures: dict[str, deque] = {"slack": deque(), "twilio": deque()}
        self._delay: dict[str, float] = {"slack": 0.0, "twilio": 0.0}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- control ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def slack_base_url(self) -> str:
        return f"{self.url}/api/"

    def start(self) -> FakeProviders:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, provider: str, kind: str, times: int = 1) -> None:
        known = _SLACK_FAILURES if provider == "slack" else _TWILIO_FAILURES
        if kind not in known:
            raise ValueError(f"unknown {provider} failure {kind!r}")
        self._failures[provider].extend([kind] * times)

    def delay(self, provider: str, seconds: float) -> None:
        self._delay[provider] = seconds

    def accepted_for(self, provider: str) -> list[dict]:
        return [r for r in self.accepted if r["provider"] == provider]

    # -- HTTP ------------------------------------------------------------------------------
    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.startswith("/api/"):
                    fake._slack(self, self.path[len("/api/") :], raw)
                elif self.path.startswith("/2010-04-01/Accounts/"):
                    fake._twilio(self, raw)
                else:
                    fake._send(self, 404, {"error": "not found"})

        return Handler

    def _send(self, handler, status: int, body, headers: dict | None = None) -> None:
        payload = b"<html>upstream error</html>" if body is None else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "text/html" if body is None else "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(payload)

    def _next_failure(self, provider: str) -> str | None:
        with self._lock:
            return self._failures[provider].popleft() if self._failures[provider] else None

    def _slack(self, handler, method: str, raw: bytes) -> None:
        content_type = handler.headers.get("Content-Type", "")
        body = (
            json.loads(raw or b"{}")
            if "json" in content_type
            else {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        )
        record = {
            "provider": "slack",
            "method": method,
            "body": body,
            "headers": dict(handler.headers),
        }
        with self._lock:
            self.requests.append(record)
        if self._delay["slack"]:
            time.sleep(self._delay["slack"])
        if handler.headers.get("Authorization") != f"Bearer {SLACK_TOKEN}":
            return self._send(handler, 200, {"ok": False, "error": "invalid_auth"})
        failure = self._next_failure("slack")
        if failure:
            status, payload, headers = _SLACK_FAILURES[failure]
            return self._send(handler, status, payload, headers)
        ts = f"{int(time.time())}.{next(self._ids):06d}"
        with self._lock:
            self.accepted.append({**record, "ts": ts})
        return self._send(
            handler,
            200,
            {
                "ok": True,
                "channel": body.get("channel"),
                "ts": ts,
                "message": {"text": body.get("text")},
            },
        )

    def _twilio(self, handler, raw: bytes) -> None:
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        record = {
            "provider": "twilio",
            "body": form,
            "headers": dict(handler.headers),
            "path": handler.path,
        }
        with self._lock:
            self.requests.append(record)
        if self._delay["twilio"]:
            time.sleep(self._delay["twilio"])
        expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        failure = self._next_failure("twilio")
        if handler.headers.get("Authorization") != expected:
            failure = "auth"
        if failure:
            status, code, message, headers = _TWILIO_FAILURES[failure]
            return self._send(
                handler,
                status,
                {
                    "code": code,
                    "message": message,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": status,
                },
                headers,
            )
        sid = f"SM{next(self._ids):032x}"
        with self._lock:
            self.accepted.append({**record, "sid": sid})
        return self._send(
            handler,
            201,
            {
                "sid": sid,
                "status": "queued",
                "to": form.get("To"),
                "from": form.get("From"),
                "body": form.get("Body"),
                "account_sid": TWILIO_SID,
            },
        )
