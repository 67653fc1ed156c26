"""Provider webhooks and the email answer page. Providers authenticate by signature only."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from functools import partial
from xml.sax.saxutils import escape

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

from delivery import inbound, services
from delivery.errors import DeliveryError
from delivery.models import InboundRequest

logger = logging.getLogger(__name__)


def _log(request_kind: tuple[str, str], *, signature_ok: bool, outcome: str, status: int, **kw):
    provider, kind = request_kind
    return InboundRequest.objects.create(
        provider=provider,
        kind=kind,
        signature_ok=signature_ok,
        outcome=outcome[:64],
        status_code=status,
        **kw,
    )


def _twiml(message: str = "") -> HttpResponse:
    body = f"<Message>{escape(message)}</Message>" if message else ""
    return HttpResponse(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
        content_type="text/xml",
    )


def _twilio_url(request: HttpRequest) -> str:
    """The absolute URL Twilio called (and signed): the public base URL plus our path."""
    base = settings.DELIVERY_PUBLIC_BASE_URL.rstrip("/")
    return f"{base}{request.get_full_path()}" if base else request.build_absolute_uri()


def _twilio_signed(request: HttpRequest) -> bool:
    token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    return RequestValidator(token).validate(_twilio_url(request), request.POST, signature)


@csrf_exempt
@require_POST
def twilio_status_callback(request: HttpRequest) -> HttpResponse:
    kind = ("twilio", "status_callback")
    sid = request.POST.get("MessageSid", "")
    if not _twilio_signed(request):
        _log(kind, signature_ok=False, outcome="bad_signature", status=403, provider_request_id=sid)
        return HttpResponse("Forbidden", status=403)
    status = request.POST.get("MessageStatus", "")
    attempt = request.GET.get("attempt", "")
    task, outcome = services.task_report_status(
        provider_message_id=sid,
        status=status,
        error_code=request.POST.get("ErrorCode", ""),
        attempt_id=int(attempt) if attempt.isdigit() else None,
    )
    _log(
        kind,
        signature_ok=True,
        outcome=outcome,
        status=204,
        provider_request_id=sid,
        task=task,
        learner_id=task.learner_id if task else None,
        detail={"status": status},
    )
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def twilio_inbound_sms(request: HttpRequest) -> HttpResponse:
    kind = ("twilio", "sms")
    sid = request.POST.get("MessageSid", "")
    if not _twilio_signed(request):
        _log(kind, signature_ok=False, outcome="bad_signature", status=403, provider_request_id=sid)
        return HttpResponse("Forbidden", status=403)
    # Twilio retries a webhook it thinks failed: the same MessageSid is handled once.
    if (
        sid
        and InboundRequest.objects.filter(
            provider="twilio", kind="sms", provider_request_id=sid, signature_ok=True
        ).exists()
    ):
        _log(kind, signature_ok=True, outcome="duplicate", status=200, provider_request_id=sid)
        return _twiml()
    result = inbound.sms_inbound(
        from_number=request.POST.get("From", ""), body=request.POST.get("Body", "")
    )
    _log(
        kind,
        signature_ok=True,
        outcome=result.outcome,
        status=200,
        provider_request_id=sid,
        learner=result.learner,
        task=result.task,
    )
    return _twiml(result.reply)


def _slack_verified(request: HttpRequest) -> tuple[bool, str]:
    secret = settings.SLACK_SIGNING_SECRET
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if not secret or not timestamp or not signature:
        return False, "unsigned"
    if not timestamp.isdigit():
        return False, "bad_signature"
    verifier = SignatureVerifier(secret)
    body = request.body
    if not verifier.is_valid_request(body, dict(request.headers)):
        expected = verifier.generate_signature(timestamp=timestamp, body=body)
        # Tell a stale (but genuine) request from a forged one in the log.
        if expected and hmac.compare_digest(expected, signature):
            return False, "stale"
        return False, "bad_signature"
    # A signed request seen before is a replay; remember each for the timestamp window.
    key = "delivery:slack:seen:" + hashlib.sha256(signature.encode()).hexdigest()
    if not cache.add(key, 1, timeout=settings.DELIVERY_SLACK_MAX_AGE_SECONDS * 2):
        return False, "replayed"
    return True, "ok"


@csrf_exempt
@require_POST
def slack_interactivity(request: HttpRequest) -> HttpResponse:
    kind = ("slack", "interactivity")
    ok, why = _slack_verified(request)
    if not ok:
        _log(kind, signature_ok=False, outcome=why, status=403)
        return HttpResponse("Forbidden", status=403)
    try:
        payload = json.loads(request.POST.get("payload", ""))
    except (TypeError, ValueError):
        _log(kind, signature_ok=True, outcome="malformed", status=400)
        return JsonResponse({"error": "payload must be JSON"}, status=400)
    # Acknowledge at once (Slack allows 3 seconds): the answer is stored and logged here,
    # the message is replaced by a task after the commit; nothing that fails there (the
    # message gone, the edit window closed, a rate limit) can turn this into an error.
    with transaction.atomic():
        result, update = inbound.slack_answer(payload=payload if isinstance(payload, dict) else {})
        status = 400 if result.outcome == "malformed" else 200
        _log(
            kind,
            signature_ok=True,
            outcome=result.outcome,
            status=status,
            learner=result.learner,
            task=result.task,
        )
        if update is not None:
            transaction.on_commit(partial(_queue_slack_update, update))
    if status == 400:
        return JsonResponse({"error": "unrecognised action"}, status=400)
    return HttpResponse(status=200)


def _queue_slack_update(update: inbound.SlackUpdate) -> None:
    from delivery.tasks import slack_update_answered_task

    try:
        slack_update_answered_task.delay(update.channel_id, update.ts, update.text)
    except Exception:
        logger.warning(
            "could not queue the Slack message update",
            exc_info=True,
            extra={"channel": update.channel_id, "ts": update.ts},
        )


def _link_refused(request: HttpRequest, kind: tuple[str, str], exc: DeliveryError) -> HttpResponse:
    """An answer link that is forged, expired or spent: logged, and the refusal page."""
    _log(
        kind,
        signature_ok=exc.code != "answer_link_invalid",
        outcome=exc.code,
        status=exc.status_code,
    )
    return render(request, "delivery/answer_refused.html", {"error": exc}, status=exc.status_code)


@require_POST
def answer_page_save(request: HttpRequest, token: str) -> HttpResponse:
    """The "save this topic for later" button of the answer page (before or after answering)."""
    kind = ("email", "answer_page_save")
    try:
        task, created = inbound.answer_page_save_topic(token=token)
    except DeliveryError as exc:
        return _link_refused(request, kind, exc)
    _log(
        kind,
        signature_ok=True,
        outcome="saved" if created else "already_saved",
        status=200,
        task=task,
        learner_id=task.learner_id,
    )
    return render(
        request,
        "delivery/answer_saved.html",
        {"task": task, "lesson": task.microlesson, "topic": task.microlesson.topic},
    )


@require_http_methods(["GET", "POST"])
def answer_page(request: HttpRequest, token: str) -> HttpResponse:
    kind = ("email", "answer_page")
    try:
        task = inbound.answer_page_task(token=token)
    except DeliveryError as exc:
        return _link_refused(request, kind, exc)
    options = list(task.microlesson.quiz_options)
    context = {
        "task": task,
        "lesson": task.microlesson,
        "options": list(enumerate(options)),
        "token": token,
    }
    if request.method == "GET":
        _log(
            kind,
            signature_ok=True,
            outcome="opened",
            status=200,
            task=task,
            learner_id=task.learner_id,
        )
        return render(request, "delivery/answer.html", context)
    try:
        answer = int(request.POST.get("answer", ""))
        if not 0 <= answer < len(options):
            raise ValueError
    except ValueError:
        context["error"] = "Choose one of the answers."
        return render(request, "delivery/answer.html", context, status=400)
    try:
        task, outcome = inbound.answer_page_submit(token=token, answer=answer)
    except DeliveryError as exc:
        _log(kind, signature_ok=True, outcome=exc.code, status=exc.status_code, task=task)
        return render(
            request, "delivery/answer_refused.html", {"error": exc}, status=exc.status_code
        )
    except ValidationError:
        context["error"] = "Choose one of the answers."
        return render(request, "delivery/answer.html", context, status=400)
    _log(
        kind,
        signature_ok=True,
        outcome="answered",
        status=200,
        task=task,
        learner_id=task.learner_id,
    )
    context.update(
        outcome=outcome,
        chosen=options[answer],
        verdict=inbound.outcome_text(outcome, options),
    )
    return render(request, "delivery/answer_done.html", context)
