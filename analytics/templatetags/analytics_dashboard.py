"""`{% monitoring_dashboard %}`: the monitoring dashboard on the admin index."""

from django import template
from django.conf import settings

from analytics.dashboard import dashboard_for

register = template.Library()


@register.inclusion_tag("admin/analytics/dashboard.html", takes_context=True)
def monitoring_dashboard(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_active or not user.is_staff:
        return {"dashboard": None}
    return {
        "dashboard": dashboard_for(user),
        "refresh_seconds": settings.ANALYTICS_DASHBOARD_CACHE_SECONDS,
    }
