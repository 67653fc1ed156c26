from django.urls import path

from analytics.api.views import ReportListApi, UnknownReportApi, report_apis

app_name = "reports"

urlpatterns = [
    path("reports/", ReportListApi.as_view(), name="report-list"),
    *[
        path(f"reports/{name}/", view.as_view(), name=f"report-{name}")
        for name, view in report_apis.items()
    ],
    path("reports/<slug:name>/", UnknownReportApi.as_view(), name="report"),
]
