"""Demo gift cards for the embedded mode (`manage.py seed_demo`)."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from gift_cards.models import GiftCard
from gift_cards.services import GiftCardService


def seed(stdout) -> None:
    if GiftCard.objects.filter(purchaser_id__startswith="demo:").exists():
        stdout.write("Gift cards: demo cards already exist.")
        return
    service = GiftCardService()
    spendable = service.create(
        amount=Decimal("50.00"),
        currency="USD",
        purchaser_id="demo:storefront",
        message="Welcome to Frontline",
    )
    spent = service.create(amount=Decimal("25.00"), currency="USD", purchaser_id="demo:pos")
    service.redeem(code=spent.code, order_id="DEMO-1001", amount=Decimal("10.00"))
    service.create(amount=Decimal("5000"), currency="JPY", purchaser_id="demo:storefront")
    service.create(
        amount=Decimal("40.00"),
        currency="EUR",
        purchaser_id="demo:storefront",
        expires_at=timezone.now() + timedelta(days=20),
    )
    stolen = service.create(amount=Decimal("30.00"), currency="GBP", purchaser_id="demo:pos")
    service.void(code=stolen.code, reason="Demo: reported stolen", admin_id="demo")
    # One code is printed so the balance and redeem endpoints can be tried by hand.
    stdout.write(f"Gift cards: 5 demo cards; try the USD 50.00 card: {spendable.code}")
