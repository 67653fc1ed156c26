"""
The console's admin pages: the list of queries and one query's form, table and CSV.

Mounted by analytics.admin.QueryRunAdmin under /admin/analytics/queryrun/console/ and
wrapped by `admin_site.admin_view` (non-staff go to the admin login); every page then
needs `analytics.run_query_console` (403 otherwise).
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from analytics.console.registry import UnknownQueryError, all_queries
from analytics.console.services import (
    console_query_get,
    console_query_run,
    query_run_refuse,
)
from analytics.models import QueryRun
from analytics.reporting.base import ReportTable, iter_csv

PERMISSION = "analytics.run_query_console"
# Names in the query string that are the page's own, not a query's parameters.
RUN, FORMAT = "run", "format"


def _require_permission(request, query_name: str | None = None) -> None:
    if request.user.has_perm(PERMISSION):
        return
    if query_name is not None:
        query_run_refuse(
            query_name=query_name, reason="permission denied", acting_user=request.user
        )
    raise PermissionDenied("The query console needs the 'run query console' permission.")


def _context(request, admin_site, **extra: Any) -> dict[str, Any]:
    return {
        **admin_site.each_context(request),
        "opts": QueryRun._meta,
        "app_label": QueryRun._meta.app_label,
        **extra,
    }


def console_index(request, *, admin_site):
    _require_permission(request)
    return TemplateResponse(
        request,
        "admin/analytics/console/index.html",
        _context(request, admin_site, title="Query console", queries=all_queries()),
    )


def display(value: Any) -> str:
    """A cell as text: ISO times in UTC, JSON documents as JSON, nothing for NULL."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = value.astimezone(datetime.UTC)
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, indent=1, cls=_Encoder)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _cell(value: Any) -> dict[str, Any]:
    text = display(value)
    return {"text": text, "null": value is None, "block": "\n" in text}


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal | datetime.date):
            return str(o)
        return super().default(o)


def console_query(request, name: str, *, admin_site):
    _require_permission(request, query_name=name)
    try:
        query = console_query_get(name=name, acting_user=request.user)
    except UnknownQueryError as exc:
        raise Http404(exc.message) from None
    wants_csv = request.GET.get(FORMAT) == "csv"
    submitted = RUN in request.GET or wants_csv
    outcome = None
    form = query.form(initial={k: f.initial for k, f in query.form.base_fields.items()})
    status = 200
    if submitted:
        data = request.GET.copy()
        for own in (RUN, FORMAT):
            data.pop(own, None)
        outcome = console_query_run(query=query, data=data, acting_user=request.user)
        form = outcome.form
        if form.errors or outcome.error:
            status = 400
        elif wants_csv:
            return _csv_response(query.name, outcome.result)
    result = outcome.result if outcome else None
    context = _context(
        request,
        admin_site,
        title=query.title,
        query=query,
        form=form,
        outcome=outcome,
        result=result,
        rows=[[_cell(v) for v in row] for row in result.rows] if result else [],
        csv_query=_csv_query(request),
    )
    return TemplateResponse(request, "admin/analytics/console/query.html", context, status=status)


def _csv_query(request) -> str:
    data = request.GET.copy()
    data.pop(RUN, None)
    data[FORMAT] = "csv"
    return data.urlencode()


def _csv_response(name: str, result) -> HttpResponse:
    table = ReportTable(
        title=name,
        columns=[(column, column) for column in result.columns],
        rows=[
            [display(v) if isinstance(v, dict | list | datetime.datetime) else v for v in row]
            for row in result.rows
        ],
    )
    response = HttpResponse(b"".join(iter_csv(table)), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    response["X-Row-Count"] = str(result.row_count)
    response["X-Truncated"] = "true" if result.truncated else "false"
    return response
