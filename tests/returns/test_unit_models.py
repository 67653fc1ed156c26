"""Unit: the return lifecycle (django-fsm-2) and the audit log's ORM guards."""

import pytest
from django_fsm import TransitionNotAllowed

from returns.models import AuditLogImmutableError, ReturnAuditLog, ReturnRequest

Status = ReturnRequest.Status


def _at(status, **fields):
    return ReturnRequest(status=status, **fields)


def test_a_new_return_is_pending():
    # given / when
    return_request = ReturnRequest()
    # then
    assert return_request.status == Status.PENDING


@pytest.mark.parametrize(
    ("source", "transition", "target"),
    [
        (Status.PENDING, "approve", Status.APPROVED),
        (Status.APPROVED, "ship", Status.SHIPPED),
        (Status.SHIPPED, "receive", Status.RECEIVED),
        (Status.APPROVED, "receive", Status.RECEIVED),
        (Status.RECEIVED, "inspect", Status.INSPECTING),
        (Status.RECEIVED, "complete", Status.COMPLETED),
        (Status.INSPECTING, "complete", Status.COMPLETED),
        (Status.PENDING, "reject", Status.REJECTED),
        (Status.PENDING, "cancel", Status.CANCELLED),
        (Status.APPROVED, "cancel", Status.CANCELLED),
    ],
)
def test_allowed_transitions_reach_their_target(source, transition, target):
    # given
    return_request = _at(source)
    # when
    getattr(return_request, transition)()
    # then
    assert return_request.status == target


@pytest.mark.parametrize(
    ("source", "transition"),
    [
        (Status.SHIPPED, "cancel"),
        (Status.RECEIVED, "cancel"),
        (Status.APPROVED, "reject"),
        (Status.PENDING, "complete"),
        (Status.APPROVED, "complete"),
        (Status.COMPLETED, "approve"),
        (Status.REJECTED, "approve"),
        (Status.CANCELLED, "receive"),
    ],
)
def test_forbidden_transitions_raise(source, transition):
    # given
    return_request = _at(source)
    # when / then
    with pytest.raises(TransitionNotAllowed):
        getattr(return_request, transition)()
    assert return_request.status == source


def test_returnless_completion_needs_a_returnless_return():
    # given
    kept = _at(Status.APPROVED, returnless=True)
    shipped_back = _at(Status.APPROVED, returnless=False)
    # when
    kept.complete_returnless()
    # then
    assert kept.status == Status.COMPLETED
    with pytest.raises(TransitionNotAllowed):
        shipped_back.complete_returnless()


def test_status_cannot_be_assigned_directly():
    # given
    return_request = _at(Status.PENDING)
    # when / then: protected FSM field
    with pytest.raises(AttributeError):
        return_request.status = Status.COMPLETED


def test_retailer_fault_reasons():
    # given / when / then
    assert _at(Status.PENDING, reason="defective").is_retailer_fault
    assert _at(Status.PENDING, reason="wrong_item").is_retailer_fault
    assert not _at(Status.PENDING, reason="no_longer_needed").is_retailer_fault


@pytest.mark.django_db
def test_audit_rows_refuse_update_and_delete_through_the_orm(service, new_return):
    # given
    new_return()
    row = ReturnAuditLog.objects.get()
    # when / then
    with pytest.raises(AuditLogImmutableError):
        row.save()
    with pytest.raises(AuditLogImmutableError):
        row.delete()
    with pytest.raises(AuditLogImmutableError):
        ReturnAuditLog.objects.filter(pk=row.pk).update(action="edited")
    with pytest.raises(AuditLogImmutableError):
        ReturnAuditLog.objects.all().delete()
    assert ReturnAuditLog.objects.get().action == "initiated"
