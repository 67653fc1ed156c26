from django.urls import path

from analytics.views import AboutView, StatementsView

app_name = "analytics"

urlpatterns = [
    path("xapi/statements", StatementsView.as_view(), name="xapi-statements"),
    path("xapi/about", AboutView.as_view(), name="xapi-about"),
]
