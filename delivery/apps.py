from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"
    verbose_name = "Delivery"

    def ready(self) -> None:
        # Registers the @subscribe handlers (verification codes for learners).
        from delivery import (
            checks,  # noqa: F401 - registers the system checks
            handlers,  # noqa: F401
        )
