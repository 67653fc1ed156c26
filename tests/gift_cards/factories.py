"""Factories that issue cards through the service, so every card has its ledger."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from gift_cards.models import GiftCard
from gift_cards.services import GiftCardService


class GiftCardFactory(factory.Factory):
    class Meta:
        model = GiftCard

    amount = Decimal("50.00")
    currency = "USD"
    purchaser_id = factory.Sequence(lambda n: f"user-{n}")
    recipient_email = None
    message = None
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=365))

    @classmethod
    def _create(cls, model_class, **kwargs):
        return GiftCardService().create(**kwargs)

    @classmethod
    def _build(cls, model_class, **kwargs):
        raise NotImplementedError("gift cards exist only once issued: use create()")
