"""Integration: the orders mirror, fed by the signed webhook and by `import_orders`."""

import json
import time
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from returns.models import Customer, Order, OrderEventReceipt, OrderLine
from returns.webhooks import sign

pytestmark = pytest.mark.django_db
URL = "/webhooks/orders/"


def _post(client, event, *, secret="order-webhook-secret", timestamp=None):
    body = json.dumps(event).encode()
    timestamp = str(int(timestamp if timestamp is not None else time.time()))
    return client.generic(
        "POST",
        URL,
        body,
        content_type="application/json",
        HTTP_X_FRONTLINE_TIMESTAMP=timestamp,
        HTTP_X_FRONTLINE_SIGNATURE=sign(secret=secret, timestamp=timestamp, body=body),
    )


def _completed(event_id="evt-1", order_id="web-1", **data):
    return {
        "id": event_id,
        "type": "order.completed",
        "data": {
            "order_id": order_id,
            "customer_id": "cust-1",
            "customer_email": "shopper@example.com",
            "currency": "USD",
            "shipping_amount": "4.99",
            "payment_reference": "pay_web_1",
            "placed_at": "2026-11-01T10:00:00Z",
            "lines": [
                {
                    "line_item_id": "a",
                    "product_id": "p-a",
                    "category": "apparel",
                    "quantity": 2,
                    "unit_price": "19.99",
                    "tax_amount": "3.20",
                },
            ],
            **data,
        },
    }


def test_order_completed_creates_the_mirror(client):
    # when
    response = _post(client, _completed())
    # then
    assert response.status_code == 200
    assert response.json() == {"status": "applied", "id": "evt-1"}
    order = Order.objects.get(external_id="web-1")
    assert (order.shipping_amount, order.delivered_at) == (Decimal("4.99"), None)
    line = OrderLine.objects.get(order=order)
    assert (line.quantity, line.unit_price_amount, line.tax_amount) == (
        2,
        Decimal("19.99"),
        Decimal("3.20"),
    )


def test_orders_name_their_customer_record_and_keep_it_current(client):
    # when: two orders of one customer, the second with a new address and a name
    _post(client, _completed())
    _post(
        client,
        _completed(
            event_id="evt-2",
            order_id="web-2",
            customer_email="new@example.com",
            customer_name="Sam Shopper",
        ),
    )
    # then: one customer, both orders point to it, each order keeps its own address
    [customer] = Customer.objects.all()
    assert (customer.external_id, customer.email, customer.name) == (
        "cust-1",
        "new@example.com",
        "Sam Shopper",
    )
    orders = dict(Order.objects.values_list("external_id", "customer_email"))
    assert orders == {"web-1": "shopper@example.com", "web-2": "new@example.com"}
    assert set(Order.objects.values_list("customer_id", flat=True)) == {customer.pk}


def test_a_redelivered_event_is_applied_once(client):
    # given
    _post(client, _completed())
    # when: the same event id, even with other content
    response = _post(client, _completed(shipping_amount="99.00"))
    # then
    assert response.json()["status"] == "duplicate"
    assert Order.objects.get().shipping_amount == Decimal("4.99")
    assert OrderEventReceipt.objects.count() == 1


def test_shipment_delivered_starts_the_return_window(client):
    # given
    _post(client, _completed())
    # when
    response = _post(
        client,
        {
            "id": "evt-2",
            "type": "shipment.delivered",
            "data": {"order_id": "web-1", "delivered_at": "2026-11-05T12:00:00Z"},
        },
    )
    # then
    assert response.status_code == 200
    assert Order.objects.get().delivered_at.isoformat() == "2026-11-05T12:00:00+00:00"


def test_a_delivery_for_an_unknown_order_is_not_recorded_so_it_can_be_resent(client):
    # when
    event = {
        "id": "evt-3",
        "type": "shipment.delivered",
        "data": {"order_id": "later", "delivered_at": "2026-11-05T12:00:00Z"},
    }
    response = _post(client, event)
    # then
    assert response.status_code == 409
    assert not OrderEventReceipt.objects.filter(event_id="evt-3").exists()


@pytest.mark.parametrize(
    ("secret", "age"),
    [("wrong-secret", 0), ("order-webhook-secret", 3600)],
)
def test_unsigned_or_stale_requests_are_refused(client, secret, age):
    # when
    response = _post(client, _completed(), secret=secret, timestamp=time.time() - age)
    # then
    assert response.status_code == 401
    assert Order.objects.count() == 0


def test_invalid_events_get_field_errors(client):
    # when
    response = _post(
        client,
        _completed(
            lines=[{"line_item_id": "a", "product_id": "p", "quantity": 0, "unit_price": "-1"}]
        ),
    )
    bad_type = _post(client, {"id": "e9", "type": "order.exploded", "data": {}})
    # then
    assert response.status_code == 400
    line_errors = response.json()["errors"]["data"]["lines"]["0"]
    assert set(line_errors) == {"quantity", "unit_price"}
    assert bad_type.status_code == 400 and "type" in bad_type.json()["errors"]
    assert Order.objects.count() == 0 and OrderEventReceipt.objects.count() == 0


CSV_HEADER = (
    "order_id,customer_id,customer_email,currency,shipping_amount,payment_reference,placed_at,"
    "delivered_at,line_item_id,product_id,sku,name,category,quantity,unit_price,tax_amount\n"
)


def test_import_orders_loads_good_orders_and_reports_bad_rows(tmp_path):
    # given: order B has a bad quantity on its second row (file line 4), order C a bad currency
    path = tmp_path / "orders.csv"
    path.write_text(
        CSV_HEADER
        + "A,c1,a@example.com,USD,5.00,pay_a,2026-11-01T10:00:00Z,2026-11-03T10:00:00Z,"
        + "A1,p1,S1,Shoe,apparel,1,10.00,0.80\n"
        + "B,c2,b@example.com,USD,0,pay_b,,,B1,p2,S2,Hat,apparel,1,5.00,0\n"
        + "B,c2,b@example.com,USD,0,pay_b,,,B2,p3,S3,Cap,apparel,zero,5.00,0\n"
        + "C,c3,,XXX,0,pay_c,,,C1,p4,S4,Bag,apparel,1,5.00,0\n"
        + "A,c1,a@example.com,USD,5.00,pay_a,2026-11-01T10:00:00Z,2026-11-03T10:00:00Z,"
        + "A2,p5,S5,Sock,apparel,3,2.00,0.48\n"
    )
    out, err = StringIO(), StringIO()
    # when
    call_command("import_orders", str(path), "--no-progress", stdout=out, stderr=err)
    # then
    assert list(Order.objects.values_list("external_id", flat=True)) == ["A"]
    assert OrderLine.objects.filter(order__external_id="A").count() == 2
    report = err.getvalue()
    assert "line 4 (order B): quantity" in report
    assert "(order C): currency" in report
    assert "Imported 1 orders; 2 bad rows." in out.getvalue()


def test_import_orders_is_idempotent(tmp_path):
    # given
    path = tmp_path / "orders.csv"
    path.write_text(CSV_HEADER + "A,c1,,USD,5.00,pay_a,,,A1,p1,S1,Shoe,apparel,1,10.00,0.80\n")
    # when
    call_command("import_orders", str(path), "--no-progress", stdout=StringIO(), stderr=StringIO())
    call_command("import_orders", str(path), "--no-progress", stdout=StringIO(), stderr=StringIO())
    # then
    assert (Order.objects.count(), OrderLine.objects.count()) == (1, 1)
