from django.apps import AppConfig


class GiftCardsConfig(AppConfig):
    name = "gift_cards"
    verbose_name = "Gift cards"
