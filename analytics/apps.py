from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        # Registers the @subscribe handlers that record learning events as xAPI statements.
        from analytics import handlers  # noqa: F401
