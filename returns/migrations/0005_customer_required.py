import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("returns", "0004_customers_from_customer_ids")]

    operations = [
        migrations.RemoveField(model_name="order", name="customer_external_id"),
        migrations.RemoveField(model_name="returnrequest", name="customer_external_id"),
        migrations.AlterField(
            model_name="order",
            name="customer",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="orders",
                to="returns.customer",
            ),
        ),
        migrations.AlterField(
            model_name="returnrequest",
            name="customer",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="returns",
                to="returns.customer",
            ),
        ),
    ]
