import socket

import pytest
from aiosmtpd.controller import Controller

from tests.delivery.fakes import FakeProviders


@pytest.fixture
def providers():
    fake = FakeProviders().start()
    yield fake
    fake.stop()


class _RecordingHandler:
    def __init__(self):
        self.messages = []
        self.refuse = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_sink():
    """An SMTP server on 127.0.0.1 that records what it accepts (aiosmtpd)."""
    handler = _RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


class _Receiver:
    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        receiver = self
        self.requests = []
        self.respond_with = 200

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"body": body, "headers": dict(self.headers)})
                self.send_response(receiver.respond_with)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/frontline"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def live_receiver():
    """A webhook endpoint on 127.0.0.1 that records requests and answers `respond_with`."""
    receiver = _Receiver()
    yield receiver
    receiver.stop()
