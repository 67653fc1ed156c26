"""
Local stand-ins for the providers, on 127.0.0.1, answering like the real APIs.

`FakeProviders` serves Slack's Web API (`/api/chat.postMessage`, `/api/chat.update`) and
Twilio's Messages resource (`/2010-04-01/Accounts/<sid>/Messages.json`, and GET
`Messages/<MessageSid>.json` for a message's status). Tests script failures with
`fail_next(...)`, take a provider down with `down(...)` (every call answers 503 until
`up(...)`), hold it to a rate with `limit_rate(...)` (429 and Retry-After above it), set a
message's status with `set_status(...)` and count what was accepted in `accepted`.
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
    "message_not_found": (200, {"ok": False, "error": "message_not_found"}, {}),
    "edit_window_closed": (200, {"ok": False, "error": "edit_window_closed"}, {}),
    "cant_update_message": (200, {"ok": False, "error": "cant_update_message"}, {}),
    "unavailable": (503, None, {}),
}
# kind -> (HTTP status, Twilio error code, message, extra headers)
_TWILIO_FAILURES = {
    "rate_limited": (429, 20429, "Too Many Requests", {"Retry-After": "12"}),
    "server_error": (500, 20500, "Internal Server Error", {}),
    "auth": (401, 20003, "Authenticate", {}),
    "invalid_to": (400, 21211, "The 'To' number is not a valid phone number.", {}),
    "unsubscribed": (400, 21610, "Attempt to send to unsubscribed recipient", {}),
    "unavailable": (503, 20503, "Service Unavailable", {}),
    "not_found": (404, 20404, "The requested resource was not found", {}),
}


class FakeProviders:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.accepted: list[dict] = []
        self._failures: dict[str, deque] = {"slack": deque(), "twilio": deque()}
        self._delay: dict[str, float] = {"slack": 0.0, "twilio": 0.0}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._down: dict[str, bool] = {"slack": False, "twilio": False}
        self._rate: dict[str, tuple[float, float]] = {}  # provider -> (per second, next slot)
        self._burst: dict[str, float] = {}
        self.rate_limited: dict[str, int] = {"slack": 0, "twilio": 0}
        self.statuses: dict[str, str] = {}  # Twilio message SID -> status
        self.early_callback: str | None = None  # a status to report before answering
        self.callbacks: list[dict] = []  # status callbacks made, with our answer
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

    def down(self, provider: str) -> None:
        """Every call to `provider` answers 503 until `up()`."""
        self._down[provider] = True

    def up(self, provider: str) -> None:
        self._down[provider] = False

    def limit_rate(self, provider: str, per_second: float, *, burst_seconds: float = 1.0) -> None:
        """Accept at most `per_second` messages a second, with bursts of up to
        `burst_seconds` worth early (senders' clocks and scheduling jitter); 429 above it."""
        self._rate[provider] = (per_second, 0.0)
        self._burst[provider] = burst_seconds

    def set_status(self, sid: str, status: str) -> None:
        self.statuses[sid] = status

    def report_before_answering(self, status: str | None) -> None:
        """Post a signed status callback for each new message *before* answering the
        create call, as Twilio may when its callback beats the sender's own commit."""
        self.early_callback = status

    def _status_callback(self, url: str, sid: str, status: str) -> None:
        import requests
        from twilio.request_validator import RequestValidator

        params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": TWILIO_SID}
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
        response = requests.post(
            url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10
        )
        with self._lock:
            self.callbacks.append({"url": url, "sid": sid, "status": response.status_code})

    def _over_rate(self, provider: str) -> bool:
        if provider not in self._rate:
            return False
        with self._lock:
            rate, next_slot = self._rate[provider]
            now = time.monotonic()
            interval = 1.0 / rate
            if next_slot - now > self._burst.get(provider, 1.0):  # beyond the burst allowed
                self.rate_limited[provider] += 1
                return True
            self._rate[provider] = (rate, max(next_slot, now) + interval)
            return False

    def accepted_for(self, provider: str) -> list[dict]:
        return [r for r in self.accepted if r["provider"] == provider]

    # -- HTTP ------------------------------------------------------------------------------
    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                if self.path.startswith("/2010-04-01/Accounts/"):
                    fake._twilio_fetch(self)
                else:
                    fake._send(self, 404, {"error": "not found"})

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
        if self._down["slack"]:
            failure = "unavailable"
        elif failure is None and method == "chat.postMessage" and self._over_rate("slack"):
            return self._send(
                handler, 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
            )
        if failure:
            status, payload, headers = _SLACK_FAILURES[failure]
            return self._send(handler, status, payload, headers)
        ts = f"{int(time.time())}.{next(self._ids):06d}"
        with self._lock:
            self.accepted.append({**record, "ts": ts, "at": time.monotonic()})
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
        elif self._down["twilio"]:
            failure = "unavailable"
        elif failure is None and self._over_rate("twilio"):
            failure = "rate_limited_1s"
        if failure == "rate_limited_1s":
            return self._twilio_error(
                handler, 429, 20429, "Too Many Requests", {"Retry-After": "1"}
            )
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
            self.accepted.append({**record, "sid": sid, "at": time.monotonic()})
            self.statuses[sid] = "queued"
        if self.early_callback and form.get("StatusCallback"):
            self.statuses[sid] = self.early_callback
            self._status_callback(form["StatusCallback"], sid, self.early_callback)
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

    def _twilio_error(self, handler, status: int, code: int, message: str, headers=None) -> None:
        body = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        return self._send(handler, status, body, headers or {})

    def _twilio_fetch(self, handler) -> None:
        """GET /2010-04-01/Accounts/<sid>/Messages/<MessageSid>.json: the message's status."""
        record = {"provider": "twilio", "method": "fetch", "path": handler.path}
        with self._lock:
            self.requests.append(record)
        expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        if handler.headers.get("Authorization") != expected:
            return self._twilio_error(handler, 401, 20003, "Authenticate")
        if self._down["twilio"]:
            return self._twilio_error(handler, 503, 20503, "Service Unavailable")
        sid = handler.path.rsplit("/", 1)[-1].removesuffix(".json")
        status = self.statuses.get(sid)
        if status is None:
            return self._twilio_error(
                handler, 404, 20404, f"The requested resource /Messages/{sid}.json was not found"
            )
        error_code = 30003 if status == "undelivered" else None
        return self._send(
            handler,
            200,
            {"sid": sid, "status": status, "error_code": error_code, "account_sid": TWILIO_SID},
        )
