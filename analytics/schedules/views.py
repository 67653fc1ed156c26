"""Download of a report run's CSV or PDF: by signed link (what deliveries carry) or as staff."""

from __future__ import annotations

import logging

from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from analytics.models import ExecutionStatus, ReportExecution
from analytics.schedules.errors import (
    ReportFileMissingError,
    ReportLinkInvalidError,
    ReportScheduleError,
)
from analytics.schedules.links import FILE_KINDS, check_file_signature
from analytics.schedules.messages import CONTENT_TYPES, file_name

logger = logging.getLogger(__name__)

_TITLES = {404: "Link not valid", 410: "Link expired"}


def _staff_may_view(request: HttpRequest) -> bool:
    user = request.user
    return bool(
        user.is_authenticated and user.is_staff and user.has_perm("analytics.view_reportexecution")
    )


@require_GET
def report_execution_file(request: HttpRequest, execution_id: int, kind: str) -> HttpResponse:
    signed = "sig" in request.GET
    try:
        if kind not in FILE_KINDS:
            raise ReportLinkInvalidError()
        if signed or not _staff_may_view(request):
            check_file_signature(execution_id, kind, request.GET.get("sig", ""))
        execution = ReportExecution.objects.filter(
            pk=execution_id, status=ExecutionStatus.SUCCEEDED
        ).first()
        stored = getattr(execution, f"{kind}_file", None)
        if not stored:
            raise ReportFileMissingError()
        handle = stored.open("rb")
    except (ReportScheduleError, FileNotFoundError) as exc:
        error = exc if isinstance(exc, ReportScheduleError) else ReportFileMissingError()
        logger.info(
            "report file refused",
            extra={"execution": execution_id, "kind": kind, "outcome": error.code},
        )
        status = error.status_code
        response = render(
            request,
            "errors/base.html",
            {"status": status, "title": _TITLES.get(status, "Not found"), "message": error.message},
            status=status,
        )
        response["Referrer-Policy"] = "no-referrer"
        return response
    logger.info(
        "report file downloaded",
        extra={"execution": execution_id, "kind": kind, "signed": signed},
    )
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=file_name(execution, kind),
        content_type=CONTENT_TYPES[kind],
    )
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
