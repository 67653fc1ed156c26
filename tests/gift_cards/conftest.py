from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from gift_cards.services import GiftCardService
from tests.gift_cards.factories import GiftCardFactory


class Clock:
    """A settable clock for expiry tests: services read time only through it."""

    def __init__(self, now: datetime | None = None):
        self.now = now or timezone.now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def service() -> GiftCardService:
    return GiftCardService()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def clocked_service(clock) -> GiftCardService:
    return GiftCardService(clock=clock)


@pytest.fixture
def card():
    return GiftCardFactory(amount="100.00")


@pytest.fixture
def make_card():
    return GiftCardFactory


@pytest.fixture
def make_user(django_user_model):
    """A user holding the given gift_cards permissions (codenames), optionally staff."""
    from django.contrib.auth.models import Permission

    counter = iter(range(1_000_000))

    def make(*codenames: str, staff: bool = False):
        user = django_user_model.objects.create_user(
            username=f"gc-user-{next(counter)}", password=None, is_staff=staff
        )
        user.user_permissions.set(
            Permission.objects.filter(content_type__app_label="gift_cards", codename__in=codenames)
        )
        return django_user_model.objects.get(pk=user.pk)  # fresh permission cache

    return make


@pytest.fixture
def client_for(make_user):
    from rest_framework.test import APIClient

    def make(*codenames: str, staff: bool = False, ip: str = "10.0.0.1"):
        client = APIClient(REMOTE_ADDR=ip)
        client.force_authenticate(make_user(*codenames, staff=staff))
        return client

    return make


@pytest.fixture
def pos_client(client_for):
    """A point-of-sale integration: may issue, redeem and refund."""
    return client_for("add_giftcard", "redeem_giftcard", "refund_giftcard")


@pytest.fixture
def staff_client(client_for):
    return client_for(
        "view_giftcard", "change_giftcard", "void_giftcard", "bulk_create_giftcard", staff=True
    )


@pytest.fixture(autouse=True)
def _generous_code_limits(settings):
    """Throttles stay on but out of the way; the security tests tighten them."""
    settings.GIFT_CARD_CODE_BURST = 1000
    settings.GIFT_CARD_CODE_ADDRESS_BURST = 1000
    settings.GIFT_CARD_LOCKOUT_THRESHOLD = 1000
    settings.GIFT_CARD_ADDRESS_LOCKOUT_THRESHOLD = 1000
