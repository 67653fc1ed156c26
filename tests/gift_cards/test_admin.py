"""Integration: the gift card admin (changelist, search, actions, ledger inline, report)."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from gift_cards.models import GiftCard, GiftCardTransaction

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:gift_cards_giftcard_changelist"


@pytest.fixture
def admin_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("boss", "boss@example.com", None)
    client.force_login(admin)
    client.admin = admin
    return client


@pytest.fixture
def viewer_client(client, make_user):
    client.force_login(make_user("view_giftcard", staff=True))
    return client


def test_changelist_shows_liability_per_currency(admin_client, make_card, service):
    make_card(amount="10.00")
    spent = make_card(amount="20.00")
    service.redeem(code=spent.code, order_id="o", amount="5")
    make_card(amount="3000", currency="JPY")
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    liability = {row["currency"]: row["outstanding"] for row in response.context["liability"]}
    assert liability == {"JPY": Decimal("3000"), "USD": Decimal("25.00")}
    assert "Outstanding liability" in response.content.decode()


def test_search_by_last_four_purchaser_and_recipient(admin_client, make_card):
    target = make_card(amount="10", purchaser_id="cust-42", recipient_email="ann@example.com")
    make_card(amount="10", purchaser_id="cust-7")
    for query in (target.last_four.lower(), "cust-42", "ann@example"):
        response = admin_client.get(reverse(CHANGELIST), {"q": query})
        assert [c.pk for c in response.context["cl"].result_list] == [target.pk], query


def test_change_page_shows_a_read_only_ledger_and_no_code(admin_client, service, card):
    service.redeem(code=card.code, order_id="ORD-77", amount="12.5")
    response = admin_client.get(reverse("admin:gift_cards_giftcard_change", args=[card.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "ORD-77" in page and card.masked_code in page
    assert card.code not in page
    assert 'name="transactions-0-amount"' not in page  # rendered read-only, not as inputs


def test_cards_and_ledger_rows_cannot_be_added_or_deleted_in_admin(admin_client, card):
    assert admin_client.get(reverse("admin:gift_cards_giftcard_add")).status_code == 403
    row = card.transactions.get()
    delete = reverse("admin:gift_cards_giftcardtransaction_delete", args=[row.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    change = reverse("admin:gift_cards_giftcardtransaction_change", args=[row.pk])
    admin_client.post(change, {"amount": "1"})
    assert GiftCardTransaction.objects.get(pk=row.pk).amount == Decimal("100")


def test_void_action_asks_for_a_reason_then_voids_through_the_service(admin_client, make_card):
    a, b = make_card(amount="10"), make_card(amount="20")
    data = {"action": "void_cards", ACTION_CHECKBOX_NAME: [a.pk, b.pk]}
    confirm = admin_client.post(reverse(CHANGELIST), data)
    assert confirm.status_code == 200 and "reason" in confirm.content.decode()
    assert GiftCard.objects.filter(status="voided").count() == 0
    done = admin_client.post(reverse(CHANGELIST), {**data, "apply": "1", "reason": "Chargeback"})
    assert done.status_code == 302
    for card in GiftCard.objects.all():
        assert (card.status, card.balance, card.void_reason) == ("voided", 0, "Chargeback")
        row = card.transactions.get(transaction_type="void")
        assert row.actor_id == f"user:{admin_client.admin.pk}"


def test_void_action_is_hidden_without_the_void_permission(viewer_client, card):
    response = viewer_client.get(reverse(CHANGELIST))
    assert "void_cards" not in response.content.decode()
    viewer_client.post(
        reverse(CHANGELIST),
        {"action": "void_cards", ACTION_CHECKBOX_NAME: [card.pk], "apply": "1", "reason": "x"},
    )
    assert GiftCard.objects.get(pk=card.pk).status == "active"


def test_extend_expiry_action(admin_client, make_card, service):
    live = make_card(amount="10")
    voided = make_card(amount="10")
    service.void(code=voided.code, reason="x", admin_id="a")
    new_expiry = (live.expires_at + timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S")
    response = admin_client.post(
        reverse(CHANGELIST),
        {
            "action": "extend_expiry",
            ACTION_CHECKBOX_NAME: [live.pk, voided.pk],
            "apply": "1",
            "expires_at": new_expiry,
        },
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert "Extended 1 gift card(s)." in messages
    assert any("Not extended" in m for m in messages)
    live.refresh_from_db()
    assert live.expires_at.strftime("%Y-%m-%d %H:%M:%S") == new_expiry
    assert live.transactions.filter(transaction_type="expiry_extended").count() == 1


def test_liability_report_page_and_csv(admin_client, make_card, service):
    make_card(amount="10.00")
    make_card(amount="5.25")
    make_card(amount="100", currency="EUR")
    url = reverse("admin:gift_cards_giftcard_liability")
    page = admin_client.get(url)
    assert page.status_code == 200
    assert page.context["totals"] == {"EUR": Decimal("100.00"), "USD": Decimal("15.25")}
    download = admin_client.get(url, {"format": "csv"})
    assert download["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    usd = [r for r in rows if r["currency"] == "USD"]
    assert usd == [
        {
            "currency": "USD",
            "card_age": "0-30 days",
            "expiry_month": usd[0]["expiry_month"],
            "cards": "2",
            "outstanding": "15.25",
        }
    ]


def test_liability_report_needs_view_permission(client, make_user):
    client.force_login(make_user(staff=True))
    response = client.get(reverse("admin:gift_cards_giftcard_liability"))
    assert response.status_code == 403
