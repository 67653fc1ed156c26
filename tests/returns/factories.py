from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from returns.models import Customer, CustomerAccess, Order, OrderLine


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer
        django_get_or_create = ("external_id",)

    external_id = "cust-1"
    email = "shopper@example.com"


class CustomerAccessFactory(factory.django.DjangoModelFactory):
    """A user verified to act for a customer (as opening an emailed link records it)."""

    class Meta:
        model = CustomerAccess

    customer = factory.SubFactory(CustomerFactory)
    method = CustomerAccess.Method.EMAIL_LINK
    verified_at = factory.LazyFunction(timezone.now)


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    external_id = factory.Sequence(lambda n: f"order-{n}")
    customer = factory.SubFactory(CustomerFactory)
    customer_email = "shopper@example.com"
    currency = "USD"
    shipping_amount = Decimal("7.00")
    payment_reference = factory.Sequence(lambda n: f"pay-{n}")
    placed_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=6))
    delivered_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=3))


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    external_id = factory.Sequence(lambda n: f"line-{n}")
    product_id = factory.Sequence(lambda n: f"prod-{n}")
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    name = "Trail shoe"
    category = "apparel"
    quantity = 1
    unit_price_amount = Decimal("40.00")
    tax_amount = Decimal("3.20")
