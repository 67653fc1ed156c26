"""A real HTTP lesson generator on 127.0.0.1 for tests; each test scripts its answers."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GOOD_LESSON = {
    "lesson": {
        "topic": "returns-policy",
        "title": "Receipts and refunds",
        "content": "A receipt proves where and when an item was bought.",
        "key_points": ["Ask for the receipt", "Check the date"],
        "scenario": "A customer brings back a kettle bought last week.",
        "quiz_question": "What do you ask for first?",
        "quiz_options": ["The receipt", "A discount code", "Their address"],
        "correct_answer": 0,
        "explanation": "The receipt shows the purchase and the price paid.",
    }
}


@dataclass
class Reply:
    status: int = 200
    body: bytes | None = None
    delay: float = 0.0

    @classmethod
    def json(cls, data, status: int = 200) -> Reply:
        return cls(status=status, body=json.dumps(data).encode())


@dataclass
class GeneratorServer:
    replies: deque = field(default_factory=deque)
    default: Reply = field(default_factory=lambda: Reply.json(GOOD_LESSON))
    requests: list = field(default_factory=list)

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                server.requests.append(
                    {"path": self.path, "body": json.loads(self.rfile.read(length) or b"{}")}
                )
                reply = server.replies.popleft() if server.replies else server.default
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body if reply.body is not None else b""
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
