"""
The reports of the reporting API, the scheduled reports and the dashboard read.

A report is a `Report` subclass registered with `@register`: a slug `name`, a `title`, a
DRF serializer for its parameters, and `run(params) -> ReportTable`. The API view, the CSV
and PDF renderers and the scheduler only ever see `ReportTable`s, so a new report is one
class.
"""

from analytics.reporting.base import (
    QueryRows,
    Report,
    ReportTable,
    UnknownReportError,
    all_reports,
    get_report,
    iter_csv,
    register,
    render_csv,
)

__all__ = [
    "QueryRows",
    "Report",
    "ReportTable",
    "UnknownReportError",
    "all_reports",
    "get_report",
    "iter_csv",
    "register",
    "render_csv",
]
