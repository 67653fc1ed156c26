"""Signed, expiring, single-use answer links for emailed lessons."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core import signing

from delivery.errors import AnswerLinkExpiredError, AnswerLinkInvalidError

_SALT = "delivery.answer-link"


def answer_token(*, task_id: int, learner_id: int) -> str:
    return signing.TimestampSigner(salt=_SALT).sign_object({"t": task_id, "l": learner_id})


def answer_url(*, task_id: int, learner_id: int) -> str:
    token = answer_token(task_id=task_id, learner_id=learner_id)
    return f"{settings.DELIVERY_PUBLIC_BASE_URL.rstrip('/')}/answer/{token}"


def read_answer_token(token: str) -> tuple[int, int]:
    """(task id, learner id) of a valid token; raises for a forged or expired one."""
    signer = signing.TimestampSigner(salt=_SALT)
    max_age = datetime.timedelta(hours=settings.DELIVERY_ANSWER_LINK_HOURS)
    try:
        data = signer.unsign_object(token, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise AnswerLinkExpiredError() from exc
    except signing.BadSignature as exc:
        raise AnswerLinkInvalidError() from exc
    try:
        return int(data["t"]), int(data["l"])
    except (KeyError, TypeError, ValueError) as exc:
        raise AnswerLinkInvalidError() from exc
