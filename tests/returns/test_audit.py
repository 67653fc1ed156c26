"""Audit and compliance: a complete, actor-attributed, hash-chained, immutable trail."""

import itertools

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import ProgrammingError

from returns.models import ReturnAuditLog, ReturnRequest

pytestmark = pytest.mark.django_db


def _lifecycle(service, new_return, staff, customer):
    request = new_return(acting_user=customer)
    service.approve(return_id=request.id, refund_method="exchange", approver=staff)
    service.receive_items(
        return_id=request.id,
        items_received=[
            {"line_item_id": "L1", "quantity_received": 1, "actual_condition": "sellable"}
        ],
        receiver=staff,
    )
    service.complete(return_id=request.id, acting_user=staff)
    return request


def _run_verify():
    from io import StringIO

    out, err = StringIO(), StringIO()
    try:
        call_command("verify_return_audit", "--no-progress", stdout=out, stderr=err)
    except CommandError as exc:
        return False, err.getvalue() + str(exc)
    return True, out.getvalue()


def test_every_action_is_logged_with_states_and_actors(service, new_return, staff, customer):
    # when
    request = _lifecycle(service, new_return, staff, customer)
    # then
    rows = list(
        ReturnAuditLog.objects.for_return(request.id).values_list(
            "sequence", "action", "actor_type", "actor_id", "previous_state", "new_state"
        )
    )
    staff_id, customer_id = str(staff.pk), str(customer.pk)
    assert rows == [
        (1, "initiated", "customer", customer_id, "", "pending"),
        (2, "approved", "staff", staff_id, "pending", "approved"),
        (3, "label_generated", "staff", staff_id, "approved", "approved"),
        (4, "received", "staff", staff_id, "approved", "received"),
        (5, "completed", "staff", staff_id, "received", "completed"),
    ]
    completed = ReturnAuditLog.objects.for_return(request.id).recent().first()
    assert completed.metadata["refund_method"] == "exchange"
    assert completed.metadata["refund_amount"] == "41.60"


def test_jobs_are_logged_as_the_system(service, new_return):
    # when
    request = new_return()
    # then
    row = ReturnAuditLog.objects.for_return(request.id).get()
    assert (row.actor_type, row.actor_id) == ("system", "")


def test_an_intact_trail_verifies_and_rows_chain_to_each_other(
    service, new_return, staff, customer
):
    # given
    request = _lifecycle(service, new_return, staff, customer)
    rows = list(ReturnAuditLog.objects.for_return(request.id))
    # when
    ok, output = _run_verify()
    # then
    assert ok, output
    assert rows[0].previous_hash == ""
    assert all(b.previous_hash == a.hash for a, b in itertools.pairwise(rows))
    assert ReturnRequest.objects.get(pk=request.id).audit_sequence == len(rows)


def test_the_database_refuses_to_edit_or_delete_audit_rows(service, new_return):
    # given
    new_return()
    # when / then: even raw SQL, behind the ORM's back
    for statement in (
        "UPDATE returns_returnauditlog SET action = 'approved'",
        "DELETE FROM returns_returnauditlog",
    ):
        with (
            pytest.raises(ProgrammingError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    assert ReturnAuditLog.objects.get().action == "initiated"


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (
            'UPDATE returns_returnauditlog SET metadata = \'{"refund_amount": "999.00"}\' '
            "WHERE action = 'completed'",
            "edited",
        ),
        ("DELETE FROM returns_returnauditlog WHERE action = 'approved'", "missing"),
        ("DELETE FROM returns_returnauditlog WHERE action = 'completed'", "chain ends at 4"),
    ],
)
def test_verify_return_audit_detects_tampering(
    service, new_return, staff, customer, tamper, expected
):
    # given: someone with database access disables the guard and rewrites history
    request = _lifecycle(service, new_return, staff, customer)
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # user triggers off
        cursor.execute(tamper)
        cursor.execute("SET session_replication_role = origin")
    # when
    ok, output = _run_verify()
    # then
    assert not ok
    assert expected in output
    assert ReturnRequest.objects.get(pk=request.id).rma_number in output
