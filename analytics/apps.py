from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        # Registers the @subscribe handlers that record learning events as xAPI statements,
        # and (engagement) those that record engagement metrics.
        from analytics import engagement, handlers  # noqa: F401

        # Registers the reports of the reporting API (analytics.reporting's registry).
        from analytics.reporting import completions, delivery_health, items, progress  # noqa: F401
        from analytics.reporting import engagement as engagement_report  # noqa: F401
