from django.apps import AppConfig


class GiftCardsConfig(AppConfig):
    name = "gift_cards"
    verbose_name = "Gift cards"

    def ready(self) -> None:
        # Registers the @subscribe handlers for order.refunded / order.cancelled.
        from gift_cards import handlers  # noqa: F401
