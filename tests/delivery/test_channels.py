"""The real slack-sdk, twilio and SMTP code against local servers that answer like the providers."""

import json
import socket
import time
from email import message_from_bytes

import pytest
from django.core.mail import get_connection

from delivery.channels import (
    PERMANENT,
    TEMPORARY,
    ChannelError,
    EmailChannel,
    OutboundMessage,
    Reason,
    SinkChannel,
    SlackChannel,
    SmsChannel,
    WebhookChannel,
    get_channel,
    sign_webhook,
    verify_webhook_signature,
)
from delivery.models import SinkMessage
from tests.delivery.fakes import SLACK_TOKEN, TWILIO_SID, TWILIO_TOKEN

BLOCKS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Returns policy*"}},
    {
        "type": "actions",
        "elements": [{"type": "button", "text": {"type": "plain_text", "text": "A"}, "value": "0"}],
    },
]


def _slack(providers, token=SLACK_TOKEN):
    return SlackChannel(token=token, base_url=providers.slack_base_url, timeout=2)


def _sms(providers, token=TWILIO_TOKEN):
    return SmsChannel(
        account_sid=TWILIO_SID,
        auth_token=token,
        from_number="+15550001111",
        base_url=providers.url,
        timeout=2,
    )


# --- Slack ------------------------------------------------------------------------------


def test_slack_posts_blocks_with_a_bearer_token(providers):
    result = _slack(providers).send("U123", OutboundMessage(text="Today's lesson", blocks=BLOCKS))
    [accepted] = providers.accepted_for("slack")
    assert accepted["method"] == "chat.postMessage"
    assert accepted["body"]["channel"] == "U123"
    assert accepted["body"]["blocks"] == BLOCKS
    assert result.provider_message_id == f"U123:{accepted['ts']}"
    assert result.latency_ms > 0


def test_slack_rate_limit_is_temporary_and_carries_retry_after(providers):
    providers.fail_next("slack", "ratelimited")
    with pytest.raises(ChannelError) as excinfo:
        _slack(providers).send("U123", OutboundMessage(text="x"))
    error = excinfo.value
    assert (error.category, error.reason, error.retry_after, error.status_code) == (
        TEMPORARY,
        Reason.RATE_LIMITED,
        30.0,
        429,
    )
    assert providers.accepted == []


def test_slack_server_error_is_temporary(providers):
    providers.fail_next("slack", "server_error")
    with pytest.raises(ChannelError) as excinfo:
        _slack(providers).send("U123", OutboundMessage(text="x"))
    assert (excinfo.value.category, excinfo.value.reason) == (TEMPORARY, Reason.SERVER_ERROR)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("channel_not_found", Reason.INVALID_RECIPIENT),
        ("missing_scope", Reason.MISSING_PERMISSION),
        ("invalid_blocks", Reason.INVALID_PAYLOAD),
    ],
)
def test_slack_permanent_errors(providers, kind, reason):
    providers.fail_next("slack", kind)
    with pytest.raises(ChannelError) as excinfo:
        _slack(providers).send("C404", OutboundMessage(text="x"))
    assert (excinfo.value.category, excinfo.value.reason, excinfo.value.provider_code) == (
        PERMANENT,
        reason,
        kind,
    )


def test_slack_bad_token_is_permanent_invalid_auth(providers):
    with pytest.raises(ChannelError) as excinfo:
        _slack(providers, token="xoxb-wrong").send("U123", OutboundMessage(text="x"))
    assert (excinfo.value.category, excinfo.value.reason) == (PERMANENT, Reason.INVALID_AUTH)


def test_slack_timeout_is_temporary(providers):
    providers.delay("slack", 3)
    channel = SlackChannel(token=SLACK_TOKEN, base_url=providers.slack_base_url, timeout=1)
    with pytest.raises(ChannelError) as excinfo:
        channel.send("U123", OutboundMessage(text="x"))
    assert (excinfo.value.category, excinfo.value.reason) == (TEMPORARY, Reason.TIMEOUT)


def test_slack_unreachable_is_a_temporary_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel = SlackChannel(token=SLACK_TOKEN, base_url=f"http://127.0.0.1:{port}/api/", timeout=1)
    with pytest.raises(ChannelError) as excinfo:
        channel.send("U123", OutboundMessage(text="x"))
    assert (excinfo.value.category, excinfo.value.reason) == (TEMPORARY, Reason.CONNECTION)


def test_slack_update_replaces_the_message(providers):
    channel = _slack(providers)
    sent = channel.send("U123", OutboundMessage(text="question"))
    channel_id, ts = sent.provider_message_id.split(":")
    channel.update(channel=channel_id, ts=ts, text="Correct!")
    assert providers.requests[-1]["method"] == "chat.update"
    assert providers.requests[-1]["body"]["text"] == "Correct!"


# --- SMS --------------------------------------------------------------------------------


def test_sms_creates_a_message_with_status_callback(providers):
    message = OutboundMessage(
        text="Q: 1) A 2) B. Reply 1-2",
        status_callback="https://frontline.example/webhooks/twilio/status",
    )
    result = _sms(providers).send("+15551234567", message)
    [accepted] = providers.accepted_for("twilio")
    assert accepted["path"] == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert accepted["body"] == {
        "To": "+15551234567",
        "From": "+15550001111",
        "Body": "Q: 1) A 2) B. Reply 1-2",
        "StatusCallback": "https://frontline.example/webhooks/twilio/status",
    }
    assert result.provider_message_id == accepted["sid"]
    assert result.response["status"] == "queued"


@pytest.mark.parametrize(
    ("kind", "category", "reason"),
    [
        ("rate_limited", TEMPORARY, Reason.RATE_LIMITED),
        ("server_error", TEMPORARY, Reason.SERVER_ERROR),
        ("invalid_to", PERMANENT, Reason.INVALID_RECIPIENT),
        ("unsubscribed", PERMANENT, Reason.UNSUBSCRIBED),
    ],
)
def test_sms_errors_are_classified_from_status_and_code(providers, kind, category, reason):
    providers.fail_next("twilio", kind)
    with pytest.raises(ChannelError) as excinfo:
        _sms(providers).send("+15551234567", OutboundMessage(text="x"))
    assert (excinfo.value.category, excinfo.value.reason) == (category, reason)
    assert providers.accepted == []


def test_sms_bad_credentials_are_permanent_20003(providers):
    with pytest.raises(ChannelError) as excinfo:
        _sms(providers, token="wrong").send("+15551234567", OutboundMessage(text="x"))
    assert (excinfo.value.reason, excinfo.value.provider_code, excinfo.value.status_code) == (
        Reason.INVALID_AUTH,
        "20003",
        401,
    )


def test_sms_over_1600_characters_is_refused_before_calling_twilio(providers):
    with pytest.raises(ChannelError) as excinfo:
        _sms(providers).send("+15551234567", OutboundMessage(text="x" * 1601))
    assert excinfo.value.reason == Reason.INVALID_PAYLOAD
    assert providers.requests == []


def test_sms_rate_limit_key_is_the_sender_number(providers):
    assert _sms(providers).rate_limit_key("+15551234567") == "sms:+15550001111"


# --- Email ------------------------------------------------------------------------------


def _email_channel(port):
    return EmailChannel(
        connection_factory=lambda: get_connection(
            "django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=port, timeout=5
        ),
        from_email="Frontline <lessons@frontline.example>",
    )


def test_email_sends_html_and_text_over_smtp(smtp_sink):
    message = OutboundMessage(text="Plain body", html="<p>Rich body</p>", subject="Your lesson")
    result = _email_channel(smtp_sink.port).send("ana@example.com", message)
    [envelope] = smtp_sink.messages
    assert envelope.rcpt_tos == ["ana@example.com"]
    parsed = message_from_bytes(envelope.content)
    assert parsed["Subject"] == "Your lesson"
    assert parsed["Message-ID"].strip("<>") == result.provider_message_id
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in parsed.walk()
        if not part.is_multipart()
    }
    assert parts == {"text/plain": "Plain body", "text/html": "<p>Rich body</p>"}


def test_email_refused_recipient_is_permanent(smtp_sink):
    smtp_sink.refuse.add("ghost@example.com")
    with pytest.raises(ChannelError) as excinfo:
        _email_channel(smtp_sink.port).send("ghost@example.com", OutboundMessage(text="x"))
    assert (excinfo.value.category, excinfo.value.reason) == (PERMANENT, Reason.INVALID_RECIPIENT)
    assert smtp_sink.messages == []


def test_email_server_down_is_temporary():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ChannelError) as excinfo:
        _email_channel(port).send("ana@example.com", OutboundMessage(text="x"))
    assert excinfo.value.category == TEMPORARY


# --- Webhook ----------------------------------------------------------------------------


def test_webhook_signature_round_trip_and_staleness():
    body = b'{"report": 1}'
    now = int(time.time())
    header = sign_webhook("s3cret", now, body)
    assert verify_webhook_signature("s3cret", header, body)
    assert not verify_webhook_signature("other", header, body)
    assert not verify_webhook_signature("s3cret", header, b'{"report": 2}')
    assert not verify_webhook_signature("s3cret", sign_webhook("s3cret", now - 3600, body), body)
    assert not verify_webhook_signature("s3cret", "garbage", body)


def test_webhook_posts_signed_json(providers, live_receiver):
    channel = WebhookChannel(secret="s3cret", timeout=2)
    channel.send(
        live_receiver.url,
        OutboundMessage(text="x", payload={"report": 5}, idempotency_key="exec-5"),
    )
    [request] = live_receiver.requests
    assert json.loads(request["body"]) == {"report": 5}
    assert request["headers"]["Idempotency-Key"] == "exec-5"
    assert verify_webhook_signature(
        "s3cret", request["headers"]["X-Frontline-Signature"], request["body"]
    )


@pytest.mark.parametrize(
    ("status", "category", "reason"),
    [
        (429, TEMPORARY, Reason.RATE_LIMITED),
        (503, TEMPORARY, Reason.SERVER_ERROR),
        (401, PERMANENT, Reason.INVALID_AUTH),
        (410, PERMANENT, Reason.INVALID_RECIPIENT),
        (422, PERMANENT, Reason.INVALID_PAYLOAD),
    ],
)
def test_webhook_status_codes_are_classified(live_receiver, status, category, reason):
    live_receiver.respond_with = status
    with pytest.raises(ChannelError) as excinfo:
        WebhookChannel(secret="s", timeout=2).send(live_receiver.url, OutboundMessage(text="x"))
    assert (excinfo.value.category, excinfo.value.reason, excinfo.value.status_code) == (
        category,
        reason,
        status,
    )


# --- Sink and selection -----------------------------------------------------------------


@pytest.mark.django_db
def test_unconfigured_channels_deliver_to_the_local_sink(settings):
    settings.SLACK_BOT_TOKEN = ""
    channel = get_channel("slack")
    assert isinstance(channel, SinkChannel)
    result = channel.send("U123", OutboundMessage(text="Hello", blocks=BLOCKS))
    record = SinkMessage.objects.get()
    assert (record.channel, record.address, record.text) == ("slack", "U123", "Hello")
    assert record.payload["blocks"] == BLOCKS
    assert result.provider_message_id == f"sink-{record.pk}"


def test_configured_channels_use_the_providers(settings, providers):
    settings.SLACK_BOT_TOKEN = SLACK_TOKEN
    settings.SLACK_API_URL = providers.slack_base_url
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = TWILIO_SID, TWILIO_TOKEN
    settings.TWILIO_FROM_NUMBER, settings.TWILIO_API_URL = "+15550001111", providers.url
    assert isinstance(get_channel("slack"), SlackChannel)
    assert isinstance(get_channel("sms"), SmsChannel)
    get_channel("sms").send("+15551234567", OutboundMessage(text="via settings"))
    assert providers.accepted_for("twilio")[0]["body"]["Body"] == "via settings"
