"""
The return audit trail: every action appends one row, chained by an HMAC to the row before
it on the same return. Writers run inside the service's transaction with the return's row
locked, so sequences never fork.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from returns.models import ReturnAuditLog, ReturnRequest

Actor = ReturnAuditLog.ActorType


def actor_of(user: AbstractBaseUser | None) -> tuple[str, str]:
    """(actor id, actor type) for the user acting; no user means the system (a job)."""
    if user is None:
        return "", Actor.SYSTEM
    return str(user.pk), (Actor.STAFF if getattr(user, "is_staff", False) else Actor.CUSTOMER)


def _digest(row: ReturnAuditLog) -> str:
    body = json.dumps(
        {
            "return": row.return_request_id,
            "sequence": row.sequence,
            "action": row.action,
            "actor_id": row.actor_id,
            "actor_type": row.actor_type,
            "previous_state": row.previous_state,
            "new_state": row.new_state,
            "metadata": row.metadata,
            "created_at": row.created_at.isoformat(),
            "previous_hash": row.previous_hash,
        },
        cls=DjangoJSONEncoder,
        sort_keys=True,
        separators=(",", ":"),
    )
    key = settings.RETURNS_AUDIT_KEY.encode()
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def audit_log_write(
    *,
    return_request: ReturnRequest,
    action: str,
    actor_id: str,
    actor_type: str,
    previous_state: str = "",
    new_state: str = "",
    metadata: dict[str, Any] | None = None,
) -> ReturnAuditLog:
    """Append one row; the caller holds the return's row lock inside its transaction."""
    previous = (
        ReturnAuditLog.objects.filter(return_request=return_request)
        .order_by("-sequence")
        .only("sequence", "hash")
        .first()
    )
    # Round-trip metadata through JSON so the hash covers exactly what the database stores.
    stored_metadata = json.loads(json.dumps(metadata or {}, cls=DjangoJSONEncoder))
    row = ReturnAuditLog(
        return_request=return_request,
        sequence=(previous.sequence + 1) if previous else 1,
        action=action,
        actor_id=actor_id,
        actor_type=actor_type,
        previous_state=previous_state,
        new_state=new_state,
        metadata=stored_metadata,
        created_at=timezone.now(),
        previous_hash=previous.hash if previous else "",
    )
    row.hash = _digest(row)
    row.save(force_insert=True)
    ReturnRequest.objects.filter(pk=return_request.pk).update(audit_sequence=row.sequence)
    return_request.audit_sequence = row.sequence
    return row


@dataclass(frozen=True)
class AuditProblem:
    return_id: int
    rma_number: str
    sequence: int | None
    problem: str


def verify_return_chain(return_request: ReturnRequest) -> list[AuditProblem]:
    """Recompute one return's chain; an empty list means it is intact."""
    problems: list[AuditProblem] = []

    def report(sequence: int | None, problem: str) -> None:
        problems.append(
            AuditProblem(return_request.pk, return_request.rma_number, sequence, problem)
        )

    previous_hash = ""
    expected_sequence = 1
    for row in ReturnAuditLog.objects.filter(return_request=return_request).order_by("sequence"):
        if row.sequence != expected_sequence:
            report(expected_sequence, f"row {expected_sequence} is missing")
        if row.previous_hash != previous_hash:
            report(row.sequence, "does not chain to the row before it")
        if not hmac.compare_digest(row.hash, _digest(row)):
            report(row.sequence, "content does not match its hash (edited)")
        previous_hash = row.hash
        expected_sequence = row.sequence + 1
    last = expected_sequence - 1
    if last != return_request.audit_sequence:
        report(
            last, f"chain ends at {last} but the return recorded {return_request.audit_sequence}"
        )
    return problems
