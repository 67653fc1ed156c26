"""
The reporting API: the registered reports (analytics.reporting), staff only.

    GET /api/v1/reports/                          the reports and their parameters
    GET /api/v1/reports/<name>/?<parameters>      one report as JSON (paged where row-heavy)
    GET /api/v1/reports/<name>/?...&format=csv    the same report as CSV, every row, streamed

Each report also has its own route (same path), so the OpenAPI schema documents its
parameters; the catch-all route only answers 404 for a name that is not registered.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.reporting import Report, ReportTable, all_reports, get_report, iter_csv
from core.api.pagination import DefaultPagination
from core.api.permissions import requires

VIEW_REPORTS = "analytics.view_reports"
EXPORT_REPORTS = "analytics.export_reports"


class CsvRenderer(BaseRenderer):
    """Lets `?format=csv` and `Accept: text/csv` through content negotiation; the view
    itself streams the body (error responses are always rendered as JSON)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type=None, renderer_context=None) -> bytes:
        return json.dumps(data, default=str).encode()


class ReportPagination(DefaultPagination):
    page_size = 50


# --- describing reports -----------------------------------------------------------------


def _field_type(field: serializers.Field) -> str:
    if isinstance(field, serializers.BooleanField):
        return "boolean"
    if isinstance(field, (serializers.IntegerField, serializers.PrimaryKeyRelatedField)):
        return "integer"
    if isinstance(field, serializers.DateField):
        return "date"
    if isinstance(field, serializers.ChoiceField):
        return "choice"
    return "string"


def describe_report(report: Report) -> dict[str, Any]:
    parameters = []
    for name, field in report.Parameters().fields.items():
        described: dict[str, Any] = {
            "name": name,
            "type": _field_type(field),
            "required": field.required,
            "help_text": str(field.help_text or ""),
        }
        if isinstance(field, serializers.ChoiceField):
            described["choices"] = list(field.choices)
        if field.default is not serializers.empty:
            described["default"] = field.default
        parameters.append(described)
    return {
        "name": report.name,
        "title": report.title,
        "description": report.description,
        "paginated": report.paginated,
        "formats": ["json", "csv"],
        "parameters": parameters,
    }


@extend_schema_serializer(component_name="ReportParameter")
class ReportParameterSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["boolean", "integer", "date", "choice", "string"])
    required = serializers.BooleanField()
    help_text = serializers.CharField()
    choices = serializers.ListField(child=serializers.CharField(), required=False)
    default = serializers.JSONField(required=False)


@extend_schema_serializer(component_name="ReportDescription")
class ReportDescriptionSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    paginated = serializers.BooleanField()
    formats = serializers.ListField(child=serializers.CharField())
    parameters = ReportParameterSerializer(many=True)


@extend_schema_serializer(component_name="ReportColumn")
class ReportColumnSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()


@extend_schema_serializer(component_name="ReportResult")
class ReportResultSerializer(serializers.Serializer):
    report = serializers.CharField()
    title = serializers.CharField()
    parameters = serializers.DictField(help_text="The parameters the report ran with.")
    summary = serializers.DictField(help_text="Figures over all rows (not only this page).")
    columns = ReportColumnSerializer(many=True)
    count = serializers.IntegerField(help_text="Rows in the whole report.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = serializers.ListField(
        child=serializers.DictField(), help_text="Rows, keyed by column key."
    )


# --- views ------------------------------------------------------------------------------


class ReportListApi(APIView):
    """The reports of the reporting API and the parameters each takes."""

    permission_classes = [requires(VIEW_REPORTS)]

    @extend_schema(
        operation_id="reports_list",
        tags=["reports"],
        responses=ReportDescriptionSerializer(many=True),
    )
    def get(self, request):
        return Response([describe_report(report) for report in all_reports()])


class ReportApi(APIView):
    """One report, as JSON or (`format=csv`) as a CSV download."""

    permission_classes = [requires(VIEW_REPORTS)]
    renderer_classes = [JSONRenderer, CsvRenderer]
    report_name: str | None = None  # set on the per-report subclasses

    def get(self, request, name: str | None = None):
        report = get_report(self.report_name or name)
        params = report.clean(request.query_params)
        table = report.run(params)
        if request.accepted_renderer.format == "csv":
            # A CSV takes every row of learner data away: its own permission.
            if not request.user.has_perm(EXPORT_REPORTS):
                self.permission_denied(
                    request, message=f"You need the {EXPORT_REPORTS} permission."
                )
            return self._csv(report, table)
        return self._json(report, table)

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors (400, 401, 403, 404) stay JSON with the API's error body, CSV asked or not.
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    def _json(self, report: Report, table: ReportTable) -> Response:
        keys = table.keys
        body: dict[str, Any] = {
            "report": report.name,
            "title": table.title,
            "parameters": table.parameters,
            "summary": table.summary,
            "columns": [{"key": key, "label": label} for key, label in table.columns],
        }
        if report.paginated:
            paginator = ReportPagination()
            rows = paginator.paginate_queryset(table.rows, self.request, view=self)
            body.update(
                count=paginator.page.paginator.count,
                next=paginator.get_next_link(),
                previous=paginator.get_previous_link(),
            )
        else:
            rows = list(table.rows)
            body.update(count=len(rows), next=None, previous=None)
        body["results"] = [dict(zip(keys, row, strict=True)) for row in rows]
        return Response(body)

    def _csv(self, report: Report, table: ReportTable) -> StreamingHttpResponse:
        filename = f"{report.name}-{timezone.now():%Y%m%d-%H%M%S}.csv"
        response = StreamingHttpResponse(iter_csv(table), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "no-store"
        return response


_FORMAT = OpenApiParameter(
    "format",
    OpenApiTypes.STR,
    enum=["json", "csv"],
    description="csv: the whole report as a CSV attachment (every row, no paging).",
)
_PAGING = [
    OpenApiParameter("page", OpenApiTypes.INT, description="Page number (JSON)."),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="Rows per page, at most 500."),
]


def _report_api(report: Report) -> type[ReportApi]:
    """A ReportApi subclass for one report, documented with that report's parameters."""
    columns = ", ".join(f"`{key}`" for key, _ in getattr(report, "columns", []))
    description = report.description + (f"\n\nColumns: {columns}." if columns else "")
    view = type(
        "".join(part.title() for part in report.name.split("-")) + "ReportApi",
        (ReportApi,),
        {"report_name": report.name, "__doc__": report.title},
    )
    schema = extend_schema(
        operation_id="report_" + report.name.replace("-", "_"),
        summary=report.title,
        description=description,
        tags=["reports"],
        parameters=[
            report.Parameters,
            _FORMAT,
            *(_PAGING if report.paginated else []),
        ],
        responses={
            (200, "application/json"): ReportResultSerializer,
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.BINARY, description="CSV: a header row of labels."
            ),
            400: OpenApiResponse(description="Invalid parameters, with field errors."),
        },
    )
    return extend_schema_view(get=schema)(view)


report_apis = {report.name: _report_api(report) for report in all_reports()}


@extend_schema(exclude=True)
class UnknownReportApi(ReportApi):
    """The catch-all: a report name that is not registered answers 404."""
