"""Integration: whole flows across the service, outbox, handlers, tasks, email and commands."""

import csv
import json
import socket
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.urls import reverse

from core.models import JobRun, OutboxEvent
from core.outbox import dispatch_event, handlers_for, publish_event
from gift_cards import demo
from gift_cards.models import GiftCard, GiftCardTransaction
from gift_cards.tasks import gift_cards_expire_overdue_task

STREAM = "frontline:events"


def _stream_topics(redis_client):
    return [fields["topic"] for _id, fields in redis_client.xrange(STREAM)]


# --- flows through the API -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_purchase_to_redemption_flow_publishes_every_event(pos_client, redis_client):
    # given a card bought at the storefront
    created = pos_client.post(
        reverse("gift_cards:gift-card-create"), {"amount": "60.00", "purchaser_id": "cust-1"}
    ).json()
    # when it pays two orders, one of which is partly refunded
    redeem = reverse("gift_cards:gift-card-redeem")
    first = pos_client.post(redeem, {"code": created["code"], "order_id": "A", "amount": "25"})
    second = pos_client.post(redeem, {"code": created["code"], "order_id": "B"})
    pos_client.post(
        reverse("gift_cards:gift-card-refund"),
        {"redemption_id": first.json()["redemption_id"], "amount": "5"},
    )
    # then balances follow and the stream carries each event, in order, without the code
    assert second.json()["redeemed_amount"] == "35.00"
    assert GiftCard.objects.get(pk=created["id"]).balance == Decimal("5.00")
    assert _stream_topics(redis_client) == [
        "gift_card.created",
        "gift_card.redeemed",
        "gift_card.redeemed",
        "gift_card.refunded",
    ]
    payloads = [fields["payload"] for _id, fields in redis_client.xrange(STREAM)]
    assert all(created["code"] not in p for p in payloads)


@pytest.mark.django_db
def test_multi_step_redemption_across_orders_keeps_the_ledger_chained(service, card):
    for n, amount in enumerate(["10.00", "20.50", "0.25", "69.25"]):
        service.redeem(code=card.code, order_id=f"order-{n}", amount=amount)
    rows = list(card.transactions.order_by("id"))
    assert [r.balance_after for r in rows] == [
        Decimal("100"),
        Decimal("90"),
        Decimal("69.5"),
        Decimal("69.25"),
        Decimal("0"),
    ]
    assert [r.order_id for r in rows[1:]] == ["order-0", "order-1", "order-2", "order-3"]
    assert GiftCard.objects.get(pk=card.pk).status == "fully_redeemed"


@pytest.mark.django_db(transaction=True)
def test_rolled_back_redemption_leaves_no_event_and_no_ledger_row(service, card, redis_client):
    with pytest.raises(RuntimeError), transaction.atomic():
        service.redeem(code=card.code, order_id="o", amount="10")
        raise RuntimeError("the order failed to save")
    assert not OutboxEvent.objects.filter(topic="gift_card.redeemed").exists()
    assert "gift_card.redeemed" not in _stream_topics(redis_client)
    assert GiftCard.objects.get(pk=card.pk).balance == Decimal("100.00")


# --- order events --------------------------------------------------------------------


def test_handlers_are_registered_for_order_events():
    assert handlers_for("order.refunded") == ["gift_cards.handlers.on_order_refunded"]
    assert handlers_for("order.cancelled") == ["gift_cards.handlers.on_order_cancelled"]


@pytest.mark.django_db(transaction=True)
def test_order_refunded_event_refunds_to_the_card_once(service, make_card):
    # given an order paid with a gift card
    card = make_card(amount="100")
    service.redeem(code=card.code, order_id="ORD-9", amount="60")
    # when the order service reports a 25.00 refund (published, then dispatched by the worker)
    with transaction.atomic():
        event = publish_event("order.refunded", {"order_id": "ORD-9", "amount": "25.00"})
    # then
    card.refresh_from_db()
    assert card.balance == Decimal("65.00")
    refund = card.transactions.get(transaction_type="refund")
    assert refund.order_id == "ORD-9"
    # and a redelivery does nothing more
    assert (
        dispatch_event(event_pk=event.pk, handler="gift_cards.handlers.on_order_refunded") is False
    )
    assert GiftCard.objects.get(pk=card.pk).balance == Decimal("65.00")


@pytest.mark.django_db(transaction=True)
def test_order_cancelled_releases_every_redemption_of_the_order(service, make_card):
    # given an order split across two cards, one already partly refunded
    a, b = make_card(amount="50"), make_card(amount="50")
    ra = service.redeem(code=a.code, order_id="ORD-5", amount="30")
    service.redeem(code=b.code, order_id="ORD-5", amount="50")
    service.refund_to_card(redemption_id=ra.redemption_id, amount="10")
    # when
    with transaction.atomic():
        publish_event("order.cancelled", {"order_id": "ORD-5"})
    # then both cards are whole again
    assert GiftCard.objects.get(pk=a.pk).balance == Decimal("50.00")
    assert GiftCard.objects.get(pk=b.pk).balance == Decimal("50.00")
    assert GiftCardTransaction.objects.filter(transaction_type="refund").count() == 3


@pytest.mark.django_db
def test_order_refunded_handler_is_idempotent_when_called_twice_directly(service, make_card):
    from gift_cards.handlers import on_order_refunded

    card = make_card(amount="100")
    service.redeem(code=card.code, order_id="ORD-1", amount="40")
    event = OutboxEvent.objects.create(topic="order.refunded", payload={"order_id": "ORD-1"})
    on_order_refunded(event)
    on_order_refunded(event)
    assert GiftCard.objects.get(pk=card.pk).balance == Decimal("100.00")
    assert card.transactions.filter(transaction_type="refund").count() == 1


@pytest.mark.django_db
def test_order_refund_to_a_voided_card_is_skipped_not_failed(service, make_card):
    from gift_cards.handlers import on_order_refunded

    voided, live = make_card(amount="20"), make_card(amount="20")
    service.redeem(code=voided.code, order_id="ORD-2", amount="20")
    service.redeem(code=live.code, order_id="ORD-2", amount="20")
    service.void(code=voided.code, reason="fraud", admin_id="staff")
    on_order_refunded(
        OutboxEvent.objects.create(topic="order.refunded", payload={"order_id": "ORD-2"})
    )
    assert GiftCard.objects.get(pk=live.pk).balance == Decimal("20.00")
    assert GiftCard.objects.get(pk=voided.pk).balance == 0


# --- email ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_recipient_gets_the_code_by_email_after_commit(service, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        card = service.create(
            amount="40", purchaser_id="u", recipient_email="friend@example.com", message="Enjoy!"
        )
    [message] = mail.outbox
    assert message.to == ["friend@example.com"]
    assert "USD 40.00" in message.subject
    assert card.code in message.body and "Enjoy!" in message.body
    assert card.code in message.alternatives[0][0]


@pytest.mark.django_db
def test_no_email_without_recipient_or_when_the_creation_rolls_back(
    service, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        service.create(amount="40", purchaser_id="u")
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        service.create(amount="40", purchaser_id="u", recipient_email="x@example.com")
        raise RuntimeError("rolled back")
    assert mail.outbox == [] and callbacks == []


class _Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_sink():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    handler = _Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


@pytest.mark.django_db
def test_recipient_email_goes_out_over_smtp(
    service, settings, smtp_sink, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_sink.port
    with django_capture_on_commit_callbacks(execute=True):
        card = service.create(amount="15", purchaser_id="u", recipient_email="to@example.com")
    [envelope] = smtp_sink.messages
    assert envelope.rcpt_tos == ["to@example.com"]
    assert card.code in envelope.content.decode()


# --- beat job ------------------------------------------------------------------------


def test_expiry_job_is_scheduled_hourly_under_its_stable_name():
    entry = django_settings.CELERY_BEAT_SCHEDULE["gift_cards-expire-overdue"]
    assert entry["task"] == "gift_cards.expire_overdue"
    assert gift_cards_expire_overdue_task.name == "gift_cards.expire_overdue"


@pytest.mark.django_db
def test_expiry_job_expires_overdue_cards_and_records_a_job_run(make_card):
    overdue = make_card(amount="12")
    make_card(amount="12")
    GiftCard.objects.filter(pk=overdue.pk).update(
        expires_at=overdue.expires_at - timedelta(days=400)
    )
    gift_cards_expire_overdue_task.delay()
    assert GiftCard.objects.get(pk=overdue.pk).status == "expired"
    run = JobRun.objects.get(name="gift_cards.expire_overdue")
    assert (run.status, run.counts) == ("succeeded", {"expired": 1})
    assert OutboxEvent.objects.get(topic="gift_card.expired").payload["forfeited_amount"] == "12.00"


# --- commands ------------------------------------------------------------------------


@pytest.mark.django_db
def test_reconcile_passes_when_every_balance_matches_its_ledger(service, card):
    service.redeem(code=card.code, order_id="o", amount="3")
    out = StringIO()
    call_command("reconcile_gift_cards", stdout=out, stderr=StringIO())
    assert "1 gift card(s) reconcile: no drift" in out.getvalue()


@pytest.mark.django_db
def test_reconcile_reports_drift_and_exits_1(make_card):
    good, bad = make_card(amount="10"), make_card(amount="10")
    GiftCard.objects.filter(pk=bad.pk).update(current_balance=Decimal("7"))
    out = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("reconcile_gift_cards", stdout=out, stderr=StringIO())
    assert exit_info.value.code == 1
    assert f"card #{bad.pk}: balance 7.000 != ledger sum 10.000" in out.getvalue()
    assert f"card #{good.pk}" not in out.getvalue()


@pytest.mark.django_db
def test_bulk_command_writes_the_codes_once(tmp_path):
    target = tmp_path / "codes.csv"
    call_command(
        "bulk_gift_cards",
        "--count=12",
        "--amount=7.50",
        "--currency=EUR",
        "--prefix=SPRING",
        "--expires=2099-06-30",
        f"--output={target}",
        stdout=StringIO(),
        stderr=StringIO(),
    )
    rows = list(csv.DictReader(target.open()))
    assert len(rows) == 12
    assert all(r["code"].startswith("SPRING-") and r["amount"] == "7.50" for r in rows)
    assert rows[0]["expires_at"].startswith("2099-06-30T23:59:59")
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    # a second run never overwrites the file and issues nothing
    with pytest.raises(CommandError, match="exists"):
        call_command("bulk_gift_cards", "--count=1", "--amount=1", f"--output={target}")
    assert GiftCard.objects.count() == 12


@pytest.mark.django_db
def test_bulk_command_refuses_bad_input_without_leaving_a_file(tmp_path):
    target = tmp_path / "codes.csv"
    with pytest.raises(CommandError):
        call_command("bulk_gift_cards", "--count=3", "--amount=1.001", f"--output={target}")
    assert not target.exists() and not GiftCard.objects.exists()


@pytest.mark.django_db
def test_demo_seed_creates_cards_once():
    out = StringIO()
    demo.seed(stdout=out)
    demo.seed(stdout=out)
    assert GiftCard.objects.filter(purchaser_id__startswith="demo:").count() == 5
    assert "already exist" in out.getvalue()
    assert json.dumps(list(GiftCard.objects.values_list("status", flat=True))).count("voided") == 1
