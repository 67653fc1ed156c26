"""
Signed, expiring download links for a report run's files:

    <DELIVERY_PUBLIC_BASE_URL>/reports/executions/<id>/csv?sig=<timestamp>:<signature>

The signature (django.core.signing.TimestampSigner, keyed by SECRET_KEY and a salt of its
own) covers the execution id and the file kind, so a link cannot be turned into another
run's or the other file's; it expires REPORTS_LINK_MAX_AGE seconds after it was made.
Staff with the view permission open the same URL without a signature (the admin's links).
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core import signing
from django.urls import reverse

from analytics.schedules.errors import ReportLinkExpiredError, ReportLinkInvalidError

_SALT = "analytics.report-file"
FILE_KINDS = ("csv", "pdf")


def _value(execution_id: int, kind: str) -> str:
    return f"{execution_id}:{kind}"


def file_path(execution_id: int, kind: str) -> str:
    return reverse(
        "analytics:report-execution-file", kwargs={"execution_id": execution_id, "kind": kind}
    )


def file_signature(execution_id: int, kind: str) -> str:
    """`<timestamp>:<signature>` of this file of this run, valid from now."""
    signed = signing.TimestampSigner(salt=_SALT).sign(_value(execution_id, kind))
    return signed[len(_value(execution_id, kind)) + 1 :]


def file_url(execution_id: int, kind: str) -> str:
    base = settings.DELIVERY_PUBLIC_BASE_URL.rstrip("/")
    return f"{base}{file_path(execution_id, kind)}?sig={file_signature(execution_id, kind)}"


def link_expires_at(now: datetime.datetime) -> datetime.datetime:
    return now + datetime.timedelta(seconds=settings.REPORTS_LINK_MAX_AGE)


def check_file_signature(execution_id: int, kind: str, signature: str) -> None:
    """Raises ReportLinkExpiredError or ReportLinkInvalidError unless the link is good."""
    if kind not in FILE_KINDS or not signature:
        raise ReportLinkInvalidError()
    signer = signing.TimestampSigner(salt=_SALT)
    try:
        signer.unsign(
            f"{_value(execution_id, kind)}:{signature}", max_age=settings.REPORTS_LINK_MAX_AGE
        )
    except signing.SignatureExpired as exc:
        raise ReportLinkExpiredError() from exc
    except signing.BadSignature as exc:
        raise ReportLinkInvalidError() from exc
