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


# --- delivery domain fixtures ---------------------------------------------------------------

from tests.delivery.fakes import SLACK_TOKEN, TWILIO_SID, TWILIO_TOKEN  # noqa: E402

SLACK_SIGNING_SECRET = "slack-signing-secret-for-tests"
PUBLIC_BASE_URL = "https://frontline.example.com"
FROM_NUMBER = "+15550001111"


@pytest.fixture
def live(settings, providers, smtp_sink):
    """Every channel configured against local servers: Slack and Twilio fakes, SMTP sink."""
    settings.SLACK_BOT_TOKEN = SLACK_TOKEN
    settings.SLACK_API_URL = providers.slack_base_url
    settings.SLACK_SIGNING_SECRET = SLACK_SIGNING_SECRET
    settings.TWILIO_ACCOUNT_SID = TWILIO_SID
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    settings.TWILIO_API_URL = providers.url
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_sink.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_USE_TLS = False
    settings.DELIVERY_PUBLIC_BASE_URL = PUBLIC_BASE_URL
    settings.DELIVERY_RATE_LIMITS = {"slack": 0, "sms": 0, "email": 0, "webhook": 0}
    settings.DELIVERY_FALLBACK_ORDER = ["slack", "email", "sms"]
    settings.DELIVERY_RETRY_DELAYS = [300, 900, 3600]
    providers.smtp = smtp_sink
    return providers


@pytest.fixture
def lesson():
    from tests.lessons.factories import MicrolessonFactory, TopicFactory

    return MicrolessonFactory(
        topic=TopicFactory(slug="returns-policy"),
        title="Returns without a receipt",
        quiz_question="What do you check first?",
        quiz_options=["The receipt", "The weather", "The clock", "The price tag"],
        correct_answer=0,
    )
