"""
Delivery channels behind one interface.

A channel takes an address and an `OutboundMessage` and either returns a `SendResult`
(the provider accepted the message) or raises `ChannelError`, classified as *temporary*
(rate limited, timeout, connection error, 5xx: worth retrying) or *permanent* (bad
credentials, missing permission, unknown recipient, invalid payload: retrying cannot help).
The classification is read from the SDKs' real exception types and status codes.

Every real provider call goes through a circuit breaker (core.resilience, state shared in
the cache): one per channel, and one per host for webhooks. Only temporary provider
failures (5xx, timeouts, connection errors) count against it; a permanent refusal means
the provider is up, and a 429 is the provider pacing us (its Retry-After is honoured
instead). `send()` refuses with reason `circuit_open` while the breaker is open; a caller
that consulted the breaker itself (delivery.services, so that an open breaker defers a
task before anything is recorded) passes `admitted=True`.

Channels without credentials are replaced by the local sink (a table visible in the
admin), which is what embedded mode uses.
"""

from __future__ import annotations

import json
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import make_msgid
from typing import Any, Protocol
from urllib.error import URLError
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.serializers.json import DjangoJSONEncoder
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient

from core.resilience import CircuitBreaker
from core.signing import digests_match, is_fresh, timestamped_hmac

TEMPORARY = "temporary"
PERMANENT = "permanent"


class Reason:
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    CONNECTION = "connection_error"
    SERVER_ERROR = "server_error"
    INVALID_AUTH = "invalid_auth"
    MISSING_PERMISSION = "missing_permission"
    INVALID_RECIPIENT = "invalid_recipient"
    UNSUBSCRIBED = "unsubscribed"
    INVALID_PAYLOAD = "invalid_payload"
    CIRCUIT_OPEN = "circuit_open"
    UNKNOWN = "unknown"


_TEMPORARY_REASONS = {
    Reason.RATE_LIMITED,
    Reason.TIMEOUT,
    Reason.CONNECTION,
    Reason.SERVER_ERROR,
    Reason.CIRCUIT_OPEN,
}
# What counts against a provider's breaker: the provider is down or unreachable.
BREAKER_FAILURE_REASONS = {Reason.TIMEOUT, Reason.CONNECTION, Reason.SERVER_ERROR}


class ChannelError(Exception):
    """A provider refused or could not take the message; `category` says whether to retry."""

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        retry_after: float | None = None,
        status_code: int | None = None,
        provider_code: str | None = None,
    ):
        super().__init__(message)
        self.reason = reason
        self.category = TEMPORARY if reason in _TEMPORARY_REASONS else PERMANENT
        self.retry_after = retry_after
        self.status_code = status_code
        self.provider_code = provider_code

    @property
    def is_temporary(self) -> bool:
        return self.category == TEMPORARY

    def as_metadata(self) -> dict[str, Any]:
        return {
            "error": str(self),
            "reason": self.reason,
            "category": self.category,
            "status_code": self.status_code,
            "provider_code": self.provider_code,
            "retry_after": self.retry_after,
        }


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email (other channels link to files instead)."""

    filename: str
    content: bytes
    mimetype: str


@dataclass(frozen=True)
class OutboundMessage:
    """What to say, in each channel's shape; channels use the parts they understand."""

    text: str
    subject: str = ""
    html: str = ""
    blocks: list[dict[str, Any]] | None = None
    payload: dict[str, Any] = field(default_factory=dict)  # webhook body
    status_callback: str = ""  # SMS status callback URL
    idempotency_key: str = ""
    attachments: tuple[Attachment, ...] = ()  # email only


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str
    latency_ms: float
    response: dict[str, Any] = field(default_factory=dict)


class Channel(Protocol):
    name: str

    def send(
        self, address: str, message: OutboundMessage, *, admitted: bool = False
    ) -> SendResult: ...

    def rate_limit_key(self, address: str) -> str: ...

    def breaker(self, address: str) -> CircuitBreaker | None: ...


def provider_breaker(name: str) -> CircuitBreaker:
    """The breaker named `name` (e.g. "delivery.sms"), with the DELIVERY_BREAKER_* policy."""
    return CircuitBreaker(
        name,
        failure_rate=settings.DELIVERY_BREAKER_FAILURE_RATE,
        minimum_calls=settings.DELIVERY_BREAKER_MINIMUM_CALLS,
        window=settings.DELIVERY_BREAKER_WINDOW_SECONDS,
        reset_timeout=settings.DELIVERY_BREAKER_RESET_SECONDS,
        expected_exceptions=(ChannelError,),
    )


def breaker_record(breaker: CircuitBreaker, error: BaseException | None) -> None:
    """Tell `breaker` how a call it admitted went (None: the provider accepted it)."""
    if error is None:
        breaker.record_success()
    elif isinstance(error, ChannelError) and error.reason in BREAKER_FAILURE_REASONS:
        breaker.record_failure()
    elif isinstance(error, ChannelError) and error.reason != Reason.RATE_LIMITED:
        breaker.record_success()  # a permanent refusal: the provider is up and answering
    else:
        breaker.release_trial()  # paced (429) or our own surprise: no verdict either way


def circuit_open_error(breaker: CircuitBreaker) -> ChannelError:
    wait = max(breaker.retry_after(), 1.0)
    return ChannelError(
        f"{breaker.name} is failing; calls are paused for {wait:.0f}s.",
        reason=Reason.CIRCUIT_OPEN,
        retry_after=wait,
    )


class ProviderChannel:
    """A real provider behind its breaker; subclasses implement `deliver()`."""

    name = ""

    def breaker(self, address: str) -> CircuitBreaker | None:
        return provider_breaker(f"delivery.{self.name}")

    def deliver(self, address: str, message: OutboundMessage) -> SendResult:
        raise NotImplementedError

    def send(self, address: str, message: OutboundMessage, *, admitted: bool = False) -> SendResult:
        breaker = self.breaker(address)
        if breaker is None:
            return self.deliver(address, message)
        if not admitted and not breaker.allow():
            raise circuit_open_error(breaker)
        try:
            result = self.deliver(address, message)
        except BaseException as exc:
            breaker_record(breaker, exc)
            raise
        breaker_record(breaker, None)
        return result


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("Retry-After") or headers.get("retry-after")
    except AttributeError:
        return None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


# --- Slack ------------------------------------------------------------------------------

_SLACK_PERMANENT = {
    "invalid_auth": Reason.INVALID_AUTH,
    "not_authed": Reason.INVALID_AUTH,
    "account_inactive": Reason.INVALID_AUTH,
    "token_revoked": Reason.INVALID_AUTH,
    "token_expired": Reason.INVALID_AUTH,
    "missing_scope": Reason.MISSING_PERMISSION,
    "not_allowed_token_type": Reason.MISSING_PERMISSION,
    "restricted_action": Reason.MISSING_PERMISSION,
    "ekm_access_denied": Reason.MISSING_PERMISSION,
    "channel_not_found": Reason.INVALID_RECIPIENT,
    "user_not_found": Reason.INVALID_RECIPIENT,
    "not_in_channel": Reason.INVALID_RECIPIENT,
    "is_archived": Reason.INVALID_RECIPIENT,
    "cannot_dm_bot": Reason.INVALID_RECIPIENT,
    "user_disabled": Reason.INVALID_RECIPIENT,
    "invalid_blocks": Reason.INVALID_PAYLOAD,
    "invalid_blocks_format": Reason.INVALID_PAYLOAD,
    "msg_too_long": Reason.INVALID_PAYLOAD,
    "no_text": Reason.INVALID_PAYLOAD,
    "too_many_attachments": Reason.INVALID_PAYLOAD,
    "invalid_arguments": Reason.INVALID_PAYLOAD,
}
_SLACK_TEMPORARY = {
    "ratelimited": Reason.RATE_LIMITED,
    "rate_limited": Reason.RATE_LIMITED,
    "internal_error": Reason.SERVER_ERROR,
    "fatal_error": Reason.SERVER_ERROR,
    "service_unavailable": Reason.SERVER_ERROR,
    "request_timeout": Reason.TIMEOUT,
}


class SlackChannel(ProviderChannel):
    """chat.postMessage through slack-sdk's WebClient (JSON body, Bearer token)."""

    name = "slack"

    def __init__(self, *, token: str, base_url: str = "", timeout: int = 10):
        self.client = WebClient(
            token=token,
            base_url=base_url or "https://slack.com/api/",
            timeout=timeout,
            retry_handlers=[],  # retries are ours: scheduled, recorded, dead-lettered
        )

    def rate_limit_key(self, address: str) -> str:
        return f"slack:{address}"

    def deliver(self, address: str, message: OutboundMessage) -> SendResult:
        started = time.perf_counter()
        kwargs: dict[str, Any] = {"channel": address, "text": message.text}
        if message.blocks:
            kwargs["blocks"] = message.blocks
        try:
            response = self.client.chat_postMessage(**kwargs)
        except SlackApiError as exc:
            raise self._classify(exc) from exc
        except TimeoutError as exc:
            raise ChannelError(f"Slack timed out: {exc}", reason=Reason.TIMEOUT) from exc
        except (URLError, ConnectionError, SlackClientError) as exc:
            raise ChannelError(f"Slack unreachable: {exc}", reason=Reason.CONNECTION) from exc
        data = response.data if isinstance(response.data, dict) else {}
        return SendResult(
            provider_message_id=f"{data.get('channel', address)}:{data.get('ts', '')}",
            latency_ms=_elapsed_ms(started),
            response={"channel": data.get("channel"), "ts": data.get("ts")},
        )

    def update(self, *, channel: str, ts: str, text: str, blocks: list[dict] | None = None) -> None:
        """Replace a posted message (used after an answer button is pressed)."""
        breaker = self.breaker(channel)
        if not breaker.allow():
            raise circuit_open_error(breaker)
        try:
            self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks or [])
        except SlackApiError as exc:
            error = self._classify(exc)
            breaker_record(breaker, error)
            raise error from exc
        except TimeoutError as exc:
            error = ChannelError(f"Slack timed out: {exc}", reason=Reason.TIMEOUT)
            breaker_record(breaker, error)
            raise error from exc
        except (URLError, ConnectionError, SlackClientError) as exc:
            error = ChannelError(f"Slack unreachable: {exc}", reason=Reason.CONNECTION)
            breaker_record(breaker, error)
            raise error from exc
        breaker_record(breaker, None)

    @staticmethod
    def _classify(exc: SlackApiError) -> ChannelError:
        response = exc.response
        status = getattr(response, "status_code", None)
        try:
            error = response.get("error") if isinstance(response.data, dict) else None
        except Exception:
            error = None
        message = f"Slack error {status}: {error or exc}"
        if status == 429 or error in {"ratelimited", "rate_limited"}:
            return ChannelError(
                message,
                reason=Reason.RATE_LIMITED,
                retry_after=_retry_after(response.headers),
                status_code=status,
                provider_code=error,
            )
        if status is not None and status >= 500:
            return ChannelError(
                message, reason=Reason.SERVER_ERROR, status_code=status, provider_code=error
            )
        if error in _SLACK_TEMPORARY:
            return ChannelError(
                message, reason=_SLACK_TEMPORARY[error], status_code=status, provider_code=error
            )
        reason = _SLACK_PERMANENT.get(error or "", Reason.UNKNOWN)
        return ChannelError(message, reason=reason, status_code=status, provider_code=error)


# --- SMS (Twilio) -----------------------------------------------------------------------


class _TwilioHttpClient(TwilioHttpClient):
    """Keeps the last response's headers (TwilioRestException carries none, and a 429's
    Retry-After is in them); with `base_url`, sends every Twilio domain's request to
    another base URL (a proxy or a test server)."""

    def __init__(self, base_url: str = "", **kwargs: Any):
        super().__init__(**kwargs)
        self._base = urlsplit(base_url) if base_url else None
        self.last_headers: Any = {}

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):
        if self._base is not None:
            parts = urlsplit(url)
            url = urlunsplit(
                (self._base.scheme, self._base.netloc, parts.path, parts.query, parts.fragment)
            )
        self.last_headers = {}
        response = super().request(method, url, *args, **kwargs)
        self.last_headers = response.headers or {}
        return response


_TWILIO_PERMANENT = {
    20003: Reason.INVALID_AUTH,  # authentication failed
    20005: Reason.INVALID_AUTH,  # account not active
    20008: Reason.MISSING_PERMISSION,
    21606: Reason.MISSING_PERMISSION,  # 'From' not owned / not SMS capable
    21408: Reason.MISSING_PERMISSION,  # region not enabled
    21211: Reason.INVALID_RECIPIENT,  # invalid 'To'
    21214: Reason.INVALID_RECIPIENT,
    21612: Reason.INVALID_RECIPIENT,  # cannot route to this number
    21614: Reason.INVALID_RECIPIENT,  # not a mobile number
    21610: Reason.UNSUBSCRIBED,  # recipient replied STOP
    21602: Reason.INVALID_PAYLOAD,  # body required
    21617: Reason.INVALID_PAYLOAD,  # body too long
    21604: Reason.INVALID_PAYLOAD,  # 'To' missing
    21603: Reason.INVALID_PAYLOAD,  # 'From' missing
}

SMS_MAX_LENGTH = 1600


class SmsChannel(ProviderChannel):
    """messages.create through the twilio SDK."""

    name = "sms"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str,
        base_url: str = "",
        timeout: float = 10,
    ):
        self.http_client = _TwilioHttpClient(base_url, timeout=timeout)
        http_client = self.http_client
        self.client = TwilioClient(account_sid, auth_token, http_client=http_client)
        # With an edge or region set the SDK rewrites hosts; a rebased client must not.
        self.client.edge = None
        self.client.region = None
        self.from_number = from_number

    def rate_limit_key(self, address: str) -> str:
        return f"sms:{self.from_number}"

    def deliver(self, address: str, message: OutboundMessage) -> SendResult:
        if len(message.text) > SMS_MAX_LENGTH:
            raise ChannelError(
                f"SMS body is {len(message.text)} characters; the limit is {SMS_MAX_LENGTH}.",
                reason=Reason.INVALID_PAYLOAD,
            )
        started = time.perf_counter()
        kwargs: dict[str, Any] = {"to": address, "from_": self.from_number, "body": message.text}
        if message.status_callback:
            kwargs["status_callback"] = message.status_callback
        try:
            sent = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            raise self._classify(exc, self.http_client.last_headers) from exc
        except requests.Timeout as exc:
            raise ChannelError(f"Twilio timed out: {exc}", reason=Reason.TIMEOUT) from exc
        except (requests.ConnectionError, TwilioException) as exc:
            raise ChannelError(f"Twilio unreachable: {exc}", reason=Reason.CONNECTION) from exc
        return SendResult(
            provider_message_id=sent.sid,
            latency_ms=_elapsed_ms(started),
            response={"sid": sent.sid, "status": sent.status},
        )

    def fetch_status(self, sid: str) -> dict[str, Any]:
        """The message's current status at Twilio (GET Messages/{sid}): status, error code."""
        try:
            message = self.client.messages(sid).fetch()
        except TwilioRestException as exc:
            raise self._classify(exc, self.http_client.last_headers) from exc
        except requests.Timeout as exc:
            raise ChannelError(f"Twilio timed out: {exc}", reason=Reason.TIMEOUT) from exc
        except (requests.ConnectionError, TwilioException) as exc:
            raise ChannelError(f"Twilio unreachable: {exc}", reason=Reason.CONNECTION) from exc
        return {
            "sid": message.sid,
            "status": message.status or "",
            "error_code": str(message.error_code or ""),
        }

    @staticmethod
    def _classify(exc: TwilioRestException, headers: Any = None) -> ChannelError:
        status, code = exc.status, exc.code
        message = f"Twilio error {status} ({code}): {exc.msg}"
        if status == 429 or code == 20429:
            return ChannelError(
                message,
                reason=Reason.RATE_LIMITED,
                retry_after=_retry_after(headers or {}),
                status_code=status,
                provider_code=str(code),
            )
        if status >= 500:
            return ChannelError(
                message, reason=Reason.SERVER_ERROR, status_code=status, provider_code=str(code)
            )
        reason = _TWILIO_PERMANENT.get(code or 0)
        if reason is None:
            reason = Reason.INVALID_AUTH if status == 401 else Reason.INVALID_PAYLOAD
        return ChannelError(message, reason=reason, status_code=status, provider_code=str(code))


# --- Email ------------------------------------------------------------------------------


class EmailChannel(ProviderChannel):
    """Django's email API (SMTP in production): an HTML part and a plain-text part."""

    name = "email"

    def __init__(
        self, *, connection_factory: Callable[[], Any] | None = None, from_email: str = ""
    ):
        self.connection_factory = connection_factory or (
            lambda: get_connection(fail_silently=False)
        )
        self.from_email = from_email or settings.DEFAULT_FROM_EMAIL

    def rate_limit_key(self, address: str) -> str:
        return "email"

    def deliver(self, address: str, message: OutboundMessage) -> SendResult:
        started = time.perf_counter()
        message_id = make_msgid(domain="frontline.local")
        email = EmailMultiAlternatives(
            subject=message.subject or "Frontline",
            body=message.text,
            from_email=self.from_email,
            to=[address],
            headers={"Message-ID": message_id},
            connection=self.connection_factory(),
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        for attachment in message.attachments:
            email.attach(attachment.filename, attachment.content, attachment.mimetype)
        try:
            sent = email.send(fail_silently=False)
        except smtplib.SMTPAuthenticationError as exc:
            raise ChannelError(
                f"SMTP authentication failed: {exc}",
                reason=Reason.INVALID_AUTH,
                status_code=exc.smtp_code,
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _msg in exc.recipients.values()]
            reason = (
                Reason.SERVER_ERROR
                if codes and all(400 <= c < 500 for c in codes)
                else Reason.INVALID_RECIPIENT
            )
            raise ChannelError(
                f"Recipient refused: {exc.recipients}",
                reason=reason,
                status_code=codes[0] if codes else None,
            ) from exc
        except smtplib.SMTPResponseException as exc:
            reason = Reason.SERVER_ERROR if 400 <= exc.smtp_code < 500 else Reason.INVALID_PAYLOAD
            raise ChannelError(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                reason=reason,
                status_code=exc.smtp_code,
            ) from exc
        except TimeoutError as exc:
            raise ChannelError(f"SMTP timed out: {exc}", reason=Reason.TIMEOUT) from exc
        except (
            smtplib.SMTPServerDisconnected,
            smtplib.SMTPConnectError,
            ConnectionError,
            OSError,
        ) as exc:
            raise ChannelError(f"SMTP unreachable: {exc}", reason=Reason.CONNECTION) from exc
        if sent != 1:
            raise ChannelError("The mail backend accepted no message.", reason=Reason.UNKNOWN)
        return SendResult(
            provider_message_id=message_id.strip("<>"), latency_ms=_elapsed_ms(started), response={}
        )


# --- Webhook ----------------------------------------------------------------------------

SIGNATURE_HEADER = "X-Frontline-Signature"


def sign_webhook(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the receiver checks both parts."""
    return f"t={timestamp},v1={timestamped_hmac(secret, timestamp, body)}"


def verify_webhook_signature(
    secret: str, header: str, body: bytes, *, tolerance: int = 300
) -> bool:
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if not is_fresh(timestamp, tolerance=tolerance):
        return False
    return digests_match(sign_webhook(secret, timestamp, body), header)


class WebhookChannel(ProviderChannel):
    """A signed JSON POST to the address (a URL); one breaker per target host."""

    name = "webhook"

    def __init__(
        self, *, secret: str, timeout: float = 10, session: requests.Session | None = None
    ):
        self.secret = secret
        self.timeout = timeout
        self.session = session or requests.Session()

    def rate_limit_key(self, address: str) -> str:
        return f"webhook:{urlsplit(address).netloc}"

    def breaker(self, address: str) -> CircuitBreaker | None:
        return provider_breaker(f"delivery.webhook:{urlsplit(address).netloc or address}")

    def deliver(self, address: str, message: OutboundMessage) -> SendResult:
        body = json.dumps(message.payload or {"text": message.text}, cls=DjangoJSONEncoder).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_webhook(self.secret, int(time.time()), body),
        }
        if message.idempotency_key:
            headers["Idempotency-Key"] = message.idempotency_key
        started = time.perf_counter()
        try:
            response = self.session.post(address, data=body, headers=headers, timeout=self.timeout)
        except requests.Timeout as exc:
            raise ChannelError(f"Webhook timed out: {exc}", reason=Reason.TIMEOUT) from exc
        except requests.RequestException as exc:
            raise ChannelError(f"Webhook unreachable: {exc}", reason=Reason.CONNECTION) from exc
        status = response.status_code
        if status < 300:
            return SendResult(
                provider_message_id=response.headers.get("X-Request-ID", ""),
                latency_ms=_elapsed_ms(started),
                response={"status_code": status},
            )
        message_text = f"Webhook answered {status}: {response.text[:200]}"
        if status == 429:
            reason = Reason.RATE_LIMITED
        elif status >= 500 or status == 408:
            reason = Reason.SERVER_ERROR
        elif status == 401:
            reason = Reason.INVALID_AUTH
        elif status == 403:
            reason = Reason.MISSING_PERMISSION
        elif status in (404, 410):
            reason = Reason.INVALID_RECIPIENT
        else:
            reason = Reason.INVALID_PAYLOAD
        raise ChannelError(
            message_text,
            reason=reason,
            retry_after=_retry_after(response.headers),
            status_code=status,
        )


# --- Local sink -------------------------------------------------------------------------


class SinkChannel:
    """Records the message in the database instead of sending it (embedded mode, demos)."""

    def __init__(self, name: str):
        self.name = name

    def rate_limit_key(self, address: str) -> str:
        return f"sink:{self.name}"

    def breaker(self, address: str) -> CircuitBreaker | None:
        return None  # the local sink is our own database: nothing to guard

    def send(self, address: str, message: OutboundMessage, *, admitted: bool = False) -> SendResult:
        from delivery.models import SinkMessage

        started = time.perf_counter()
        payload = (
            {"blocks": message.blocks, "payload": message.payload}
            if (message.blocks or message.payload)
            else {}
        )
        if message.attachments:
            payload["attachments"] = [
                {"filename": a.filename, "mimetype": a.mimetype, "size": len(a.content)}
                for a in message.attachments
            ]
        record = SinkMessage.objects.create(
            channel=self.name,
            address=address,
            subject=message.subject,
            text=message.text,
            html=message.html,
            payload=payload,
        )
        return SendResult(provider_message_id=f"sink-{record.pk}", latency_ms=_elapsed_ms(started))


# --- Which channel serves a name ---------------------------------------------------------

CHANNEL_NAMES = ("slack", "sms", "email", "webhook")


def is_configured(name: str) -> bool:
    """Whether the real provider for `name` has credentials (otherwise the sink stands in)."""
    if name == "slack":
        return bool(settings.SLACK_BOT_TOKEN)
    if name == "sms":
        return bool(
            settings.TWILIO_ACCOUNT_SID
            and settings.TWILIO_AUTH_TOKEN
            and settings.TWILIO_FROM_NUMBER
        )
    if name == "email":
        return bool(settings.EMAIL_HOST)
    if name == "webhook":
        return bool(settings.DELIVERY_WEBHOOK_SECRET)
    raise ValueError(f"Unknown channel {name!r}.")


def get_channel(name: str) -> Channel:
    """The configured provider for `name`, or the local sink when it has no credentials."""
    if not is_configured(name):
        return SinkChannel(name)
    if name == "slack":
        return SlackChannel(token=settings.SLACK_BOT_TOKEN, base_url=settings.SLACK_API_URL)
    if name == "sms":
        return SmsChannel(
            account_sid=settings.TWILIO_ACCOUNT_SID,
            auth_token=settings.TWILIO_AUTH_TOKEN,
            from_number=settings.TWILIO_FROM_NUMBER,
            base_url=settings.TWILIO_API_URL,
        )
    if name == "email":
        return EmailChannel()
    return WebhookChannel(secret=settings.DELIVERY_WEBHOOK_SECRET)
