"""Secrets never reach a log line: tasks take ids, and a filter on every handler scrubs the rest."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.core import mail, signing
from django.db import connection
from django.urls import reverse
from rest_framework_simplejwt.tokens import RefreshToken

from core.logging import REDACTED, SecretScrubFilter, scrub, scrub_value
from core.redis import get_redis
from delivery.links import answer_token
from gift_cards import codes
from gift_cards.services import GiftCardService
from gift_cards.tasks import gift_card_send_recipient_email_task, gift_cards_expire_overdue_task
from tests.faults.support import free_port, wait_until
from tests.gift_cards.conftest import client_for as client_for  # fixture
from tests.gift_cards.conftest import make_user  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]


# --- the scrubber ----------------------------------------------------------------------


@pytest.mark.parametrize("length", [8, 12, 16, 20, 24, 28, 32])
@pytest.mark.parametrize("prefix", ["GIFT", "PROMO", "X", "STORE2026"])
def test_every_code_the_generator_makes_is_scrubbed(prefix, length):
    code = codes.CodeGenerator().generate(prefix=prefix, length=length)
    parsed = codes.parse(code)
    spaced = parsed.prefix + "-" + " ".join(code.split("-")[1:])
    typed = [code, code.lower(), parsed.prefix + "-" + parsed.body, spaced]
    assert all(codes.parse(variant) == parsed for variant in typed)
    for variant in typed:
        cleaned = scrub(f"card {variant} was redeemed")
        assert parsed.body[:4] not in cleaned.upper(), (variant, cleaned)
        assert cleaned.startswith("card ") and cleaned.endswith(" was redeemed")


def test_masked_codes_and_ordinary_text_are_left_alone():
    text = (
        "card GIFT-****-****-****-AB7K (USD 10.00) order ORD-2026-0042 request 3f2a9c"
        " in /usr/lib/python3.11/site-packages/django/core/handlers/base.py"
    )
    assert scrub(text) == text


def test_a_code_without_digits_is_still_scrubbed():
    generator = codes.CodeGenerator()
    letters_only = next(
        code
        for code in (generator.generate() for _ in range(100_000))
        if not any(c.isdigit() for c in code.split("-", 1)[1])
    )
    assert REDACTED in scrub(letters_only.lower())


@pytest.mark.django_db
def test_tokens_of_every_kind_are_scrubbed(user):
    refresh = RefreshToken.for_user(user)
    secrets_in_text = {
        str(refresh): "refresh {}",
        str(refresh.access_token): '{{"access": "{}"}}',
        "dGhpcyBpcyBhIGJlYXJlcg": "Authorization: Bearer {}",
        "YWRtaW46aHVudGVyMg==": "Authorization: Basic {}",
        "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp": "slack token {} used",
        "xapp-1-A0123-4567-abcdef": "app token {}",
        "0123456789abcdef0123456789abcdef": "https://AC0123:{}@api.twilio.com/2010-04-01",
        "one-time-link-code": "GET /answer/?code={}&lesson=4",
        "s3cret-pass-123": "POST body password={}&username=bob",
        "hunter2hunter2": '{{"password": "{}"}}',
        "tok-ABC-123": "GET /reset?token={}",
        "sig-value-xyz": "X-Twilio-Signature={}",
        "0a1b2c3d4e5f": "TWILIO_AUTH_TOKEN={}",
        answer_token(task_id=12, learner_id=34): "GET /answer/{} HTTP/1.1",
        codes.seal("GIFT-AAAA-BBBB-CCCC-DDDD"): "args=(42, '{}')",
    }
    for secret, template in secrets_in_text.items():
        cleaned = scrub(template.format(secret))
        assert secret not in cleaned, cleaned
        assert REDACTED in cleaned


def test_secret_named_keys_and_nested_values_are_scrubbed():
    code = codes.CodeGenerator().generate()
    value = {
        "password": "plain",
        "Authorization": "Bearer abcdefghijk",
        "error": "invalid",
        "code": "invalid_code",
        "nested": [{"args": f"(42, '{code}')"}, (code,)],
    }
    cleaned = scrub_value(value)
    assert cleaned["password"] == REDACTED and cleaned["Authorization"] == REDACTED
    assert cleaned["error"] == "invalid" and cleaned["code"] == "invalid_code"
    assert code not in json.dumps(cleaned)


def _json_logger(name: str) -> tuple[logging.Logger, io.StringIO]:
    from pythonjsonlogger.json import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(SecretScrubFilter())
    logger = logging.getLogger(name)
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_the_filter_scrubs_message_arguments_extra_fields_and_tracebacks():
    # given
    code = codes.CodeGenerator().generate()
    logger, stream = _json_logger("tests.scrub")
    # when
    logger.info("Task %s[%s] received", "gift_cards.x", "id-1", extra={"data": {"args": code}})
    logger.warning("redeem %(code)s", {"code": code})
    try:
        raise ValueError(f"bad card {code}")
    except ValueError:
        logger.exception("failed")
    # then
    output = stream.getvalue()
    assert code not in output and code.split("-")[1] not in output
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines[0]["message"] == "Task gift_cards.x[id-1] received"
    assert lines[0]["data"] == {"args": REDACTED}
    assert "ValueError: bad card [redacted]" in lines[2]["exc_info"]


def test_every_configured_handler_scrubs():
    handlers = settings.LOGGING["handlers"]
    assert handlers
    for name, handler in handlers.items():
        assert "scrub_secrets" in handler.get("filters", []), name
    filters = settings.LOGGING["filters"]["scrub_secrets"]
    assert filters["()"] == "core.logging.SecretScrubFilter"
    live = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    assert live and all(any(isinstance(f, SecretScrubFilter) for f in h.filters) for h in live)


# --- the rule: a card's whole life logs no code, even without the safety net --------------


@pytest.fixture
def without_safety_net(monkeypatch):
    """Takes the scrub filter off the live handlers, so what is captured is what was logged."""
    for handler in logging.getLogger().handlers:
        kept = [f for f in handler.filters if not isinstance(f, SecretScrubFilter)]
        monkeypatch.setattr(handler, "filters", kept)


def _all_text(records: list[logging.LogRecord]) -> str:
    parts = []
    for record in records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        parts.append(repr({k: v for k, v in vars(record).items() if k not in {"msg", "args"}}))
    return "\n".join(parts)


@pytest.mark.django_db
def test_a_card_life_cycle_through_the_api_and_tasks_logs_no_code(
    caplog, without_safety_net, client_for, django_capture_on_commit_callbacks, settings
):
    settings.GIFT_CARD_CODE_BURST = 1000
    settings.GIFT_CARD_LOCKOUT_THRESHOLD = 1000
    caplog.set_level(logging.DEBUG)
    pos = client_for("add_giftcard", "redeem_giftcard", "refund_giftcard")
    staff = client_for("view_giftcard", "void_giftcard", staff=True)
    # balance checks and transfers are for a storefront integration holding their permissions
    storefront = client_for("check_balance_giftcard", "transfer_giftcard")

    def post(client, name, body, expected):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse(f"gift_cards:{name}"), body)
        assert response.status_code == expected or (expected == 400 < response.status_code < 500)
        return response.json()

    # when: issue (with the recipient email task), check, redeem, refund, transfer, void
    issued = post(
        pos,
        "gift-card-create",
        {"amount": "50.00", "purchaser_id": "p", "recipient_email": "friend@example.com"},
        201,
    )
    other = post(pos, "gift-card-create", {"amount": "20.00", "purchaser_id": "p"}, 201)
    code, other_code = issued["code"], other["code"]
    post(storefront, "gift-card-balance", {"code": code}, 200)
    redemption = post(pos, "gift-card-redeem", {"code": code, "order_id": "o1", "amount": "5"}, 201)
    post(pos, "gift-card-redeem", {"code": code, "order_id": "o2", "amount": "999"}, 400)
    refund = {"redemption_id": redemption["redemption_id"], "amount": "2"}
    post(pos, "gift-card-refund", refund, 201)
    post(pos, "gift-card-redeem", {"code": other_code, "order_id": "o4", "amount": "5"}, 201)
    transfer = {"from_code": code, "to_code": other_code, "amount": "3"}
    post(storefront, "gift-card-transfer", transfer, 201)
    post(staff, "gift-card-void", {"code": other_code, "reason": "lost"}, 200)
    post(pos, "gift-card-redeem", {"code": other_code, "order_id": "o3", "amount": "1"}, 400)
    gift_cards_expire_overdue_task.delay()

    # then: the code reached its recipient, and no log record holds it
    [message] = mail.outbox
    assert code in message.body
    logged = _all_text(caplog.records)
    assert caplog.records, "the life cycle logged nothing at DEBUG: the test would prove nothing"
    for secret in (code, other_code):
        assert codes.parse(secret).body not in logged.upper().replace("-", "")
        assert secret not in logged


# --- what a worker sees ----------------------------------------------------------------


def _broker_messages(queue: str) -> list[str]:
    return list(get_redis().lrange(queue, 0, -1))


@pytest.mark.django_db
def test_the_email_task_message_carries_the_card_id_and_a_sealed_code(
    tasks_queued, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        card = GiftCardService().create(
            amount="30", purchaser_id="p", recipient_email="friend@example.com"
        )
    # then: nothing on the broker reads as the code
    queued = _broker_messages("default")
    for raw in queued:
        assert card.code not in raw and codes.parse(card.code).body not in raw
    [message] = [
        m
        for m in map(json.loads, queued)
        if m["headers"]["task"] == "gift_cards.send_recipient_email"
    ]
    assert card.code not in message["headers"]["argsrepr"]
    # and the worker can still send it
    import base64

    args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert args[0] == card.pk
    gift_card_send_recipient_email_task.apply(args=args, kwargs=kwargs)
    [email] = mail.outbox
    assert card.code in email.body


@pytest.mark.django_db
def test_a_forged_or_foreign_sealed_code_sends_nothing():
    service = GiftCardService()
    card = service.create(amount="30", purchaser_id="p", recipient_email="a@example.com")
    stranger = service.create(amount="30", purchaser_id="p")
    mail.outbox.clear()
    gift_card_send_recipient_email_task.apply(args=[card.pk, codes.seal(stranger.code)])
    gift_card_send_recipient_email_task.apply(args=[card.pk, codes.seal(card.code)[:-2] + "xx"])
    assert mail.outbox == []
    with pytest.raises(signing.BadSignature):
        codes.unseal(codes.seal(card.code), max_age=-1)
    assert codes.unseal(codes.seal(card.code)) == card.code


class _Sink:
    def __init__(self):
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 Message accepted for delivery"


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_at_debug_level_prints_no_code(tasks_queued):
    # given: an SMTP sink and a worker process on the test database, logging at DEBUG
    sink = _Sink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    database = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
        f"/{database['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_URL": "",
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    worker = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo"),
            *("--queues", "default", "--loglevel", "DEBUG", "--without-heartbeat"),
            *("--without-gossip", "--without-mingle"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # when: a card for a recipient is issued and its email task runs in the worker
        card = GiftCardService().create(
            amount="30", purchaser_id="p", recipient_email="friend@example.com"
        )
        wait_until(lambda: sink.messages, timeout=60, interval=0.2)
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
        controller.stop()
    # then: the email holds the code, the worker's output does not
    assert card.code.encode() in sink.messages[0]
    text = output.decode()
    assert "gift_cards.send_recipient_email" in text and "received" in text, text[-2000:]
    assert card.code not in text
    assert codes.parse(card.code).body not in text.upper().replace("-", "")
