"""Fixtures for the returns tests: orders, users, and a payments service on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth.models import Permission

from returns.services import ReturnsService
from tests.returns.factories import CustomerAccessFactory, OrderFactory, OrderLineFactory


@pytest.fixture(autouse=True)
def _returns_settings(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # A configured mail server: status emails go through delivery's email channel (to the
    # test mail backend) rather than the local sink.
    settings.EMAIL_HOST = "smtp.returns.test"
    settings.RETURNS_WINDOW_DAYS = 30
    settings.RETURNS_CATEGORY_WINDOW_DAYS = {"electronics": 15, "furniture": 60}
    settings.RETURNS_NON_RETURNABLE_CATEGORIES = ["gift_cards", "final_sale", "perishables"]
    settings.RETURNS_RETURNLESS_THRESHOLD_AMOUNT = "5.00"
    settings.RETURNS_STORE_CREDIT_BONUS_PERCENT = "10"
    settings.RETURNS_RESTOCKING_FEE_PERCENT = "0"
    settings.RETURNS_CONDITION_ADJUSTMENT_PERCENT = {
        "sellable": "0",
        "damaged": "50",
        "unsellable": "100",
    }
    settings.PAYMENTS_API_URL = ""
    settings.RETURNS_PAYMENTS_TIMEOUT_SECONDS = 1.0
    settings.RETURNS_PAYMENTS_RETRY_ATTEMPTS = 3
    settings.RETURNS_PAYMENTS_RETRY_INITIAL_SECONDS = 0.01
    settings.RETURNS_REFUND_STALE_MINUTES = 10
    settings.RETURNS_ORDER_WEBHOOK_SECRET = "order-webhook-secret"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def make_order(lines=None, **order_fields):
    """An order delivered 3 days ago; `lines` are OrderLineFactory kwargs."""
    order = OrderFactory(**order_fields)
    for index, spec in enumerate(lines or [{}]):
        OrderLineFactory(order=order, external_id=spec.pop("external_id", f"L{index + 1}"), **spec)
    return order


@pytest.fixture
def order():
    return make_order(
        [
            {"unit_price_amount": "40.00", "tax_amount": "3.20", "quantity": 2},
            {"unit_price_amount": "25.00", "tax_amount": "2.00", "quantity": 1},
        ]
    )


@pytest.fixture
def service():
    return ReturnsService()


@pytest.fixture
def staff(django_user_model):
    user = django_user_model.objects.create_user(username="desk", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="process_returnrequest"))
    return django_user_model.objects.get(pk=user.pk)


@pytest.fixture
def customer(django_user_model):
    """A shopper's account, verified (by an emailed link) to act for customer cust-1."""
    user = django_user_model.objects.create_user(username="shopper")
    CustomerAccessFactory(user=user, customer__external_id="cust-1")
    return user


# --- payments service on loopback -------------------------------------------------------


@dataclass
class PaymentsServer:
    """Refunds keyed by Idempotency-Key, like a real payments API; `script` steers answers."""

    url: str = ""
    requests: list[dict] = field(default_factory=list)
    refunds: dict[str, dict] = field(default_factory=dict)
    # Each call pops the next behaviour: "ok", "500", "timeout_after_accept", "reject".
    script: list[str] = field(default_factory=list)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, key: str, body: dict) -> tuple[int, dict, float]:
        with self.lock:
            self.requests.append({"key": key, "body": body})
            behaviour = self.script.pop(0) if self.script else "ok"
            if behaviour == "500":
                return 500, {"error": "upstream failure"}, 0
            if behaviour == "reject":
                return 422, {"error": "payment_not_refundable", "message": "Card closed"}, 0
            if key not in self.refunds:
                self.refunds[key] = {
                    "id": f"re_{len(self.refunds) + 1}",
                    "status": "succeeded",
                    "amount": body["amount"],
                }
            sleep = 3.0 if behaviour == "timeout_after_accept" else 0
            return 201, self.refunds[key], sleep


@pytest.fixture
def payments_server(settings):
    server_state = PaymentsServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            status, payload, sleep = server_state.handle(
                self.headers.get("Idempotency-Key", ""), body
            )
            if sleep:
                time.sleep(sleep)  # the refund is made; the answer comes too late
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    server_state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    settings.PAYMENTS_API_URL = server_state.url
    yield server_state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def new_return(service, order) -> Callable:
    """Open a return on `order` (default: one unit of L1, customer's change of mind)."""

    def _open(items=None, reason="no_longer_needed", target_order=None, **kwargs):
        target = target_order or order
        return service.initiate(
            order_id=target.external_id,
            items=items or [{"line_item_id": "L1", "quantity": 1, "condition": "new"}],
            reason=reason,
            **kwargs,
        )

    return _open
