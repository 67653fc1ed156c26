"""A provider outage meets the breaker: the local Slack/Twilio stand-ins (real HTTP servers
on 127.0.0.1) are switched to 503; after seed 000's 5 calls at 50% failures the channel's
breaker opens, and every other due task is deferred to the half-open time without an
attempt or a spent retry; after recovery one trial closes it and the backlog goes out."""

import datetime
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from core.resilience import CircuitBreaker
from delivery.channels import ChannelError, OutboundMessage, Reason, WebhookChannel
from delivery.models import DeliveryAttempt, DeliveryTask, TaskState
from delivery.selectors import provider_breaker_states
from delivery.services import drain_due
from tests.delivery.conftest import lesson, live, providers, smtp_sink  # noqa: F401
from tests.delivery.factories import DeliveryTaskFactory
from tests.faults.support import wait_until
from tests.learners.factories import LearnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def backlog(live, lesson, settings):  # noqa: F811
    settings.DELIVERY_BREAKER_MINIMUM_CALLS = 5
    settings.DELIVERY_BREAKER_FAILURE_RATE = 0.5
    settings.DELIVERY_BREAKER_WINDOW_SECONDS = 60
    settings.DELIVERY_BREAKER_RESET_SECONDS = 30
    learners = [LearnerFactory(preferred_channel="slack") for _ in range(12)]
    return [DeliveryTaskFactory(learner=learner, microlesson=lesson) for learner in learners]


def _breaker(name="delivery.slack"):
    return {state.name: state for state in provider_breaker_states()}[name]


def test_an_outage_opens_the_breaker_and_defers_the_rest_without_spending_retries(
    live,  # noqa: F811
    backlog,
):
    # given: Slack answers 503 to everything
    live.down("slack")
    started = timezone.now()

    # when: the drain meets the 12 due lessons
    counts = drain_due()

    # then: five calls failed (each spent one retry), the breaker opened, and the other
    # seven were put back for when it half-opens: no call, no attempt, no retry spent
    assert len([r for r in live.requests if r["method"] == "chat.postMessage"]) == 5
    assert counts == {"retry_scheduled": 5, "circuit_open": 1}
    assert _breaker().state == CircuitBreaker.OPEN
    tasks = DeliveryTask.objects.order_by("id")
    spent = [t for t in tasks if t.retry_count]
    deferred = [t for t in tasks if not t.retry_count]
    assert len(spent) == 5 and len(deferred) == 7
    assert all(t.state == TaskState.PENDING and not t.attempts.exists() for t in deferred)
    earliest = started + datetime.timedelta(seconds=30)  # opened after `started`
    latest = timezone.now() + datetime.timedelta(seconds=30)
    assert all(earliest <= t.next_attempt_at <= latest for t in deferred)
    assert DeliveryAttempt.objects.count() == 5
    assert drain_due() == {}  # nothing is due until then


def _postings(live):  # noqa: F811
    return len([r for r in live.requests if r["method"] == "chat.postMessage"])


def test_after_recovery_one_trial_closes_the_breaker_and_the_backlog_goes_out(
    live,  # noqa: F811
    backlog,
    settings,
):
    # given: the outage opened the breaker (half-open after 1 s; retries after 1 s)
    settings.DELIVERY_BREAKER_RESET_SECONDS = 1
    settings.DELIVERY_RETRY_DELAYS = [1, 1, 1]
    live.down("slack")
    drain_due()
    assert _breaker().state == CircuitBreaker.OPEN
    # when: Slack recovers and the breaker half-opens
    live.up("slack")
    wait_until(lambda: _breaker().state == CircuitBreaker.HALF_OPEN, timeout=5)
    wait_until(lambda: drain_due() == {} and not _due_or_pending(), timeout=10)

    # then: every lesson was delivered, the deferred ones on their first attempt
    assert set(DeliveryTask.objects.values_list("state", flat=True)) == {"delivered"}
    assert _breaker().state == CircuitBreaker.CLOSED
    assert max(DeliveryTask.objects.values_list("retry_count", flat=True)) == 1
    assert DeliveryTask.objects.filter(retry_count=0).count() == 7
    assert len(live.accepted_for("slack")) == 12


def _due_or_pending() -> bool:
    return DeliveryTask.objects.exclude(state=TaskState.DELIVERED).exists()


def test_a_failed_trial_opens_the_breaker_again(live, backlog, settings):  # noqa: F811
    # given: the outage opened the breaker, and it half-opens while Slack is still down
    settings.DELIVERY_BREAKER_RESET_SECONDS = 1
    live.down("slack")
    drain_due()
    before = _postings(live)
    wait_until(lambda: _breaker().state == CircuitBreaker.HALF_OPEN, timeout=5)
    # when
    counts = drain_due()
    # then: only the one trial reached Slack; it failed, and the breaker is open again
    assert _postings(live) == before + 1
    assert _breaker().state == CircuitBreaker.OPEN
    assert counts.get("circuit_open") == 1 and DeliveryAttempt.objects.count() == 6


def test_permanent_refusals_do_not_open_the_breaker(live, lesson, settings):  # noqa: F811
    # given: six SMS lessons to numbers Twilio calls invalid (400, 21211)
    settings.DELIVERY_FALLBACK_ORDER = []
    learners = [LearnerFactory(preferred_channel="sms") for _ in range(6)]
    for learner in learners:
        DeliveryTaskFactory(learner=learner, microlesson=lesson)
    live.fail_next("twilio", "invalid_to", times=6)
    # when
    drain_due()
    # then: all six reached Twilio; the provider answered, so the breaker stays closed
    assert len(live.requests) >= 6
    assert _breaker("delivery.sms").state == CircuitBreaker.CLOSED
    assert _breaker("delivery.sms").calls >= 6 and _breaker("delivery.sms").failures == 0


def test_rate_limited_calls_neither_open_the_breaker_nor_count(live, lesson):  # noqa: F811
    learners = [LearnerFactory(preferred_channel="sms") for _ in range(6)]
    for learner in learners:
        DeliveryTaskFactory(learner=learner, microlesson=lesson)
    live.fail_next("twilio", "rate_limited", times=6)
    drain_due()
    state = _breaker("delivery.sms")
    assert (state.state, state.calls, state.failures) == ("closed", 0, 0)
    # and Twilio's Retry-After (12 s) was honoured over our first retry delay when longer
    assert all(t.retry_count == 1 for t in DeliveryTask.objects.all())


class _Receiver:
    """A webhook target on 127.0.0.1 answering `status`."""

    def __init__(self, status: int):
        self.status = status
        self.hits = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.hits += 1
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_webhook_breakers_are_per_target_host(settings):
    settings.DELIVERY_BREAKER_MINIMUM_CALLS = 5
    down, fine = _Receiver(503), _Receiver(200)
    try:
        channel = WebhookChannel(secret="s3cret")
        message = OutboundMessage(text="report ready")
        for _ in range(5):
            with pytest.raises(ChannelError):
                channel.send(down.url, message)
        # the failing host's breaker is open: the sixth call never reaches it
        with pytest.raises(ChannelError) as excinfo:
            channel.send(down.url, message)
        assert excinfo.value.reason == Reason.CIRCUIT_OPEN and excinfo.value.is_temporary
        assert down.hits == 5
        # another host on the same channel is not affected
        channel.send(fine.url, message)
        assert fine.hits == 1
    finally:
        down.stop()
        fine.stop()


def test_the_breaker_page_shows_the_open_breaker(admin_client, live, backlog):  # noqa: F811
    live.down("slack")
    drain_due()
    response = admin_client.get("/admin/delivery/deliverytask/breakers/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-breaker="delivery.slack">open<' in body
    assert 'data-breaker="delivery.sms">closed<' in body
