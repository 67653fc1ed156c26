"""Thin Celery entry points: fetch, call one service, log."""

from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from core.jobs import tracked_job

logger = logging.getLogger(__name__)


@shared_task(name="gift_cards.expire_overdue", ignore_result=True)
@tracked_job("gift_cards.expire_overdue")
def gift_cards_expire_overdue_task(run) -> int:
    from gift_cards.services import GiftCardService

    expired = GiftCardService().expire_overdue()
    run.set("expired", expired)
    return expired


# Arguments are the card id and the code sealed (gift_cards.codes.seal): never the plain
# code, which would sit in the broker, the worker's "received" log line and stored results.
@shared_task(
    name="gift_cards.send_recipient_email",
    ignore_result=True,
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
def gift_card_send_recipient_email_task(gift_card_id: int, sealed_code: str) -> None:
    from django.core import signing

    from gift_cards import codes
    from gift_cards.models import GiftCard

    card = GiftCard.objects.filter(pk=gift_card_id).first()
    if card is None or not card.recipient_email:
        return
    try:
        code = codes.unseal(sealed_code)
    except signing.BadSignature:
        code = None
    parsed = codes.parse(code)
    if parsed is None or not codes.hashes_match(card.code_hash, codes.code_hash(parsed)):
        logger.warning("gift card email: sealed code refused", extra={"gift_card_id": card.pk})
        return
    context = {"card": card, "code": code, "amount": card.original, "currency": card.currency}
    message = EmailMultiAlternatives(
        subject=render_to_string("gift_cards/recipient_email_subject.txt", context).strip(),
        body=render_to_string("gift_cards/recipient_email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[card.recipient_email],
    )
    message.attach_alternative(
        render_to_string("gift_cards/recipient_email.html", context), "text/html"
    )
    message.send()
    logger.info("gift card email sent", extra={"gift_card_id": card.pk})
