from django.urls import path

from analytics.schedules.views import report_execution_file
from analytics.views import AboutView, StatementsView

app_name = "analytics"

urlpatterns = [
    path("xapi/statements", StatementsView.as_view(), name="xapi-statements"),
    path("xapi/about", AboutView.as_view(), name="xapi-about"),
    # Scheduled reports: a run's CSV or PDF, by signed link (?sig=) or for staff.
    path(
        "reports/executions/<int:execution_id>/<str:kind>",
        report_execution_file,
        name="report-execution-file",
    ),
]
