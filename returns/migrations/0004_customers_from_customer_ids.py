"""One Customer per storefront customer id found on orders and returns, linked by FK."""

from django.db import migrations


def forwards(apps, schema_editor):
    Customer = apps.get_model("returns", "Customer")
    Order = apps.get_model("returns", "Order")
    ReturnRequest = apps.get_model("returns", "ReturnRequest")
    ids = set(Order.objects.values_list("customer_external_id", flat=True))
    ids |= set(ReturnRequest.objects.values_list("customer_external_id", flat=True))
    for external_id in sorted(ids):
        latest = (
            Order.objects.filter(customer_external_id=external_id)
            .exclude(customer_email="")
            .order_by("-placed_at", "-id")
            .first()
        )
        customer = Customer.objects.create(
            external_id=external_id, email=latest.customer_email if latest else ""
        )
        Order.objects.filter(customer_external_id=external_id).update(customer=customer)
    # A return belongs to its order's customer.
    for order_id, customer_id in Order.objects.values_list("pk", "customer_id"):
        ReturnRequest.objects.filter(order_id=order_id).update(customer_id=customer_id)


def backwards(apps, schema_editor):
    Order = apps.get_model("returns", "Order")
    ReturnRequest = apps.get_model("returns", "ReturnRequest")
    for model in (Order, ReturnRequest):
        for row in model.objects.select_related("customer"):
            model.objects.filter(pk=row.pk).update(customer_external_id=row.customer.external_id)


class Migration(migrations.Migration):
    dependencies = [("returns", "0003_customers_and_access")]

    operations = [migrations.RunPython(forwards, backwards)]
