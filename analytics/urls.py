from django.urls import path

from analytics.schedules.views import report_execution_file
from analytics.views import AboutView, StatementsView
from analytics.xapi_documents.views import (
    ActivitiesView,
    ActivityProfileView,
    AgentProfileView,
    AgentsView,
    StateView,
)

app_name = "analytics"

urlpatterns = [
    path("xapi/statements", StatementsView.as_view(), name="xapi-statements"),
    path("xapi/about", AboutView.as_view(), name="xapi-about"),
    # Document resources (State, Activity/Agent Profile) and Activities, Agents.
    path("xapi/activities/state", StateView.as_view(), name="xapi-state"),
    path("xapi/activities/profile", ActivityProfileView.as_view(), name="xapi-activity-profile"),
    path("xapi/agents/profile", AgentProfileView.as_view(), name="xapi-agent-profile"),
    path("xapi/activities", ActivitiesView.as_view(), name="xapi-activities"),
    path("xapi/agents", AgentsView.as_view(), name="xapi-agents"),
    # Scheduled reports: a run's CSV or PDF, by signed link (?sig=) or for staff.
    path(
        "reports/executions/<int:execution_id>/<str:kind>",
        report_execution_file,
        name="report-execution-file",
    ),
]
