"""Named permissions: is_staff opens the admin login and nothing else; each API action and
custom admin page checks a permission, held directly or through a role group."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from core.roles import ROLES, roles_setup
from returns.models import ReturnRequest
from tests.learners.factories import LearnerFactory
from tests.returns.conftest import make_order

pytestmark = pytest.mark.django_db

REPORTS = "/api/v1/reports/"


# --- returns ----------------------------------------------------------------------------


def _open_return(client, order):
    body = {
        "order_id": order.external_id,
        "items": [{"line_item_id": "L1", "quantity": 1, "condition": "opened"}],
        "reason": "no_longer_needed",
    }
    return client.post("/api/v1/returns/", body, format="json")


def test_staff_without_the_returns_permission_cannot_open_a_return_on_a_customers_order(
    api_as,
):
    order = make_order(customer__external_id="cust-1")
    refused = _open_return(api_as(), order)
    # a customer's order stays invisible to someone who is not returns staff
    assert refused.status_code == 404
    assert not ReturnRequest.objects.exists()
    allowed = _open_return(api_as("returns.process_returnrequest"), order)
    assert allowed.status_code == 201


# --- reports ----------------------------------------------------------------------------


def test_reports_need_view_reports(api_as):
    assert api_as().get(REPORTS).status_code == 403
    assert api_as().get(f"{REPORTS}delivery-health/").status_code == 403
    viewer = api_as("analytics.view_reports")
    assert viewer.get(REPORTS).status_code == 200
    assert viewer.get(f"{REPORTS}delivery-health/").status_code == 200


def test_learner_data_csv_needs_export_reports(api_as):
    viewer = api_as("analytics.view_reports")
    refused = viewer.get(f"{REPORTS}learner-progress/", {"format": "csv"})
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/json"
    exporter = api_as("analytics.view_reports", "analytics.export_reports")
    allowed = exporter.get(f"{REPORTS}learner-progress/", {"format": "csv"})
    assert allowed.status_code == 200
    assert allowed["Content-Type"].startswith("text/csv")


# --- delivery ---------------------------------------------------------------------------


def test_delivery_health_needs_its_permission(api_as):
    health = "/api/v1/delivery/health/"
    assert api_as().get(health).status_code == 403
    assert api_as("delivery.view_delivery_health").get(health).status_code == 200


def test_changing_another_learners_consent_needs_a_permission(api_as):
    learner = LearnerFactory()
    body = {"channel": "sms", "opted_out": True, "learner": learner.pk}
    assert api_as().post("/api/v1/consents/", body).status_code == 403
    learner.refresh_from_db()
    assert learner.sms_opted_out is False
    allowed = api_as("delivery.add_consentrecord").post("/api/v1/consents/", body)
    assert allowed.status_code == 201


# --- gift cards -------------------------------------------------------------------------


def test_gift_card_balance_and_transfer_need_their_permissions(api_as):
    body = {"code": "GIFT-2345-6789-ABCD-EFGH"}
    assert api_as(staff=False).post("/api/v1/gift-cards/balance/", body).status_code == 403
    transfer = {"from_code": body["code"], "to_code": body["code"], "amount": "1"}
    assert api_as(staff=False).post("/api/v1/gift-cards/transfers/", transfer).status_code == 403


# --- custom admin pages -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url, permission",
    [
        ("/admin/returns/returnrequest/queue/", "returns.view_returnrequest"),
        ("/admin/delivery/deliverytask/reminder-preview/", "delivery.view_deliverytask"),
        ("/admin/gift_cards/giftcard/liability/", "gift_cards.view_giftcard"),
        ("/admin/analytics/queryrun/console/", "analytics.run_query_console"),
        ("/admin/lockouts/", "axes.view_accessattempt"),
    ],
)
def test_custom_admin_pages_need_a_named_permission(client, make_account, url, permission):
    client.force_login(make_account())
    assert client.get(url).status_code == 403
    client.force_login(make_account(permission))
    assert client.get(url).status_code == 200


# --- is_staff alone ---------------------------------------------------------------------

# Self-service endpoints every signed-in account may call about itself.
_SELF_SERVICE = {"/api/v1/auth/whoami/", "/api/v1/returns/"}


def _api_paths():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
                yield route

    for route in walk(get_resolver().url_patterns):
        path = "/" + route.replace("<int:pk>", "1").replace("<pk>", "1").replace("^", "")
        path = path.replace("$", "")
        if "<" in path or "(?P" in path or "\\" in path:
            continue
        yield path


def test_is_staff_alone_reads_nothing_through_the_api(api_as):
    staff = api_as()
    opened = {
        path
        for path in set(_api_paths())
        if 200 <= staff.get(path).status_code < 300 and path not in _SELF_SERVICE
    }
    assert opened == set()


def test_is_staff_alone_shows_no_dashboard_figures(client, make_account):
    client.force_login(make_account())
    page = client.get("/admin/")
    assert page.status_code == 200
    assert "card-queues" not in page.content.decode()


# --- roles ------------------------------------------------------------------------------


def test_setup_roles_is_idempotent_and_creates_every_role():
    call_command("setup_roles")
    first = {g.name: set(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()}
    call_command("setup_roles")
    second = {g.name: set(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()}
    assert first == second
    assert set(first) == set(ROLES)
    assert all(first.values())


def test_a_role_grants_what_the_matrix_says(make_account):
    roles_setup()
    viewer = make_account()
    viewer.groups.add(Group.objects.get(name="Reports viewer"))
    auditor = make_account()
    auditor.groups.add(Group.objects.get(name="Auditor"))
    viewer_client, auditor_client = APIClient(), APIClient()
    viewer_client.force_authenticate(type(viewer).objects.get(pk=viewer.pk))
    auditor_client.force_authenticate(type(auditor).objects.get(pk=auditor.pk))
    csv = {"format": "csv"}
    assert viewer_client.get(f"{REPORTS}learner-progress/", csv).status_code == 200
    # an auditor reads reports but takes no learner data away as CSV
    assert auditor_client.get(f"{REPORTS}learner-progress/").status_code == 200
    assert auditor_client.get(f"{REPORTS}learner-progress/", csv).status_code == 403
    # and a reports viewer opens no return
    customers_order = make_order(customer__external_id="cust-1")
    assert _open_return(viewer_client, customers_order).status_code == 404
