"""Integration: the returns desk in the admin."""

import pytest
from django.contrib.auth.models import Permission

from returns.models import ReturnAuditLog, ReturnRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk_client(client, staff):
    staff.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_returnrequest", "change_returnrequest", "view_returnauditlog"]
        )
    )
    client.force_login(staff)
    return client


def test_changelist_filters_by_state_reason_age_and_queue(desk_client, new_return, service, staff):
    # given
    kept = new_return(items=[{"line_item_id": "L1", "quantity": 1}])
    other = new_return(items=[{"line_item_id": "L2", "quantity": 1}], reason="defective")
    service.approve(return_id=other.id, refund_method="exchange", approver=staff)
    url = "/admin/returns/returnrequest/"
    # when
    pending = desk_client.get(url, {"status__exact": "pending"})
    defective = desk_client.get(url, {"reason__exact": "defective"})
    young = desk_client.get(url, {"age": "1d"})
    waiting_parcel = desk_client.get(url, {"queue": "awaiting_parcel"})
    # then
    assert (
        kept.rma_number in pending.content.decode()
        and other.rma_number not in pending.content.decode()
    )
    assert (
        other.rma_number in defective.content.decode()
        and kept.rma_number not in defective.content.decode()
    )
    assert kept.rma_number in young.content.decode()
    assert other.rma_number in waiting_parcel.content.decode()
    assert kept.rma_number not in waiting_parcel.content.decode()


def test_queue_view_counts_each_step(desk_client, new_return):
    # given
    new_return()
    # when
    response = desk_client.get("/admin/returns/returnrequest/queue/")
    # then
    assert response.status_code == 200
    steps = {s["key"]: s["count"] for s in response.context["steps"]}
    assert steps["awaiting_approval"] == 1 and steps["awaiting_parcel"] == 0


def test_detail_page_shows_transition_buttons_and_the_audit_trail(desk_client, new_return):
    # given
    request = new_return()
    # when
    response = desk_client.get(f"/admin/returns/returnrequest/{request.id}/change/")
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "_fsm_transition_to" in html and 'value="reject"' in html
    assert "initiated" in html  # the audit inline


def test_the_approve_button_goes_through_the_service(desk_client, new_return):
    # given
    request = new_return()
    url = f"/admin/returns/returnrequest/{request.id}/transition/approve/"
    # when
    response = desk_client.post(url, {"refund_method": "store_credit", "notes": "fine"})
    # then
    assert response.status_code == 302
    saved = ReturnRequest.objects.get(pk=request.id)
    assert (saved.status, saved.refund_method) == ("approved", "store_credit")
    assert saved.tracking_number  # the service made the label
    assert ReturnAuditLog.objects.filter(return_request=saved, action="approved").exists()


def test_audit_rows_cannot_be_changed_in_the_admin(desk_client, new_return):
    # given
    new_return()
    row = ReturnAuditLog.objects.get()
    # when
    response = desk_client.post(
        f"/admin/returns/returnauditlog/{row.pk}/change/", {"action": "edited"}
    )
    delete = desk_client.post(f"/admin/returns/returnauditlog/{row.pk}/delete/", {"post": "yes"})
    # then
    assert response.status_code in (403, 200)
    assert delete.status_code == 403
    assert ReturnAuditLog.objects.get().action == "initiated"


def test_the_complete_button_refunds_through_the_payments_service(
    desk_client, new_return, service, staff, payments_server
):
    # given
    request = new_return()
    service.approve(return_id=request.id, refund_method="original_payment", approver=staff)
    service.receive_items(
        return_id=request.id,
        items_received=[
            {"line_item_id": "L1", "quantity_received": 1, "actual_condition": "sellable"}
        ],
        receiver=staff,
    )
    url = f"/admin/returns/returnrequest/{request.id}/transition/complete/"
    # when
    response = desk_client.post(url, {"final_refund_amount": "30.00"})
    # then
    assert response.status_code == 302
    saved = ReturnRequest.objects.get(pk=request.id)
    assert (saved.status, str(saved.actual_refund_amount)) == ("completed", "30.00")
    assert [r["body"]["amount"] for r in payments_server.requests] == ["30.00"]
