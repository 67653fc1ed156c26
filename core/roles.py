"""
Frontline's staff roles: Django groups, each a set of named permissions (README "Roles").

`roles_setup()` creates or updates every group to hold exactly its permissions (run by
`manage.py setup_roles`, idempotent). Patterns keep the matrix short and pick up models
added later: `app.*` is every permission of an app, `app.view_*` every view permission of
it, `*.view_*` every view permission there is.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from django.contrib.auth.models import Group, Permission
from django.db import transaction

ROLES: dict[str, list[str]] = {
    "Learning admin": [
        "learners.*",
        "lessons.*",
        "assessments.*",
        "delivery.view_consentrecord",
        "delivery.add_consentrecord",
    ],
    "Delivery operator": [
        "delivery.view_*",
        "delivery.change_deliverytask",
        "delivery.add_consentrecord",
        "core.view_*",
        "learners.view_learner",
    ],
    "Reports viewer": [
        "analytics.view_reports",
        "analytics.export_reports",
        "analytics.view_reportschedule",
        "analytics.view_reportexecution",
        "analytics.view_reportdelivery",
        "analytics.run_query_console",
        "analytics.view_queryrun",
    ],
    "Returns agent": [
        "returns.view_*",
        "returns.change_returnrequest",
        "returns.process_returnrequest",
    ],
    "Gift card operator": ["gift_cards.*"],
    "Auditor": ["*.view_*", "analytics.view_reports"],
    "Access admin": [
        "auth.*",
        "axes.*",
        "token_blacklist.*",
        "analytics.view_xapicredential",
        "analytics.add_xapicredential",
        "analytics.change_xapicredential",
    ],
}


def _matching(pattern: str, every: list[tuple[str, Permission]]) -> list[Permission]:
    matched = [perm for name, perm in every if fnmatchcase(name, pattern)]
    if not matched and "*" not in pattern:
        raise LookupError(f"No permission {pattern!r}: are the migrations applied?")
    return matched


@transaction.atomic
def roles_setup() -> dict[str, int]:
    """Each role group holds exactly the permissions of ROLES; returns counts per role."""
    every = [
        (f"{perm.content_type.app_label}.{perm.codename}", perm)
        for perm in Permission.objects.select_related("content_type")
    ]
    counts = {}
    for role, patterns in ROLES.items():
        perms = {perm for pattern in patterns for perm in _matching(pattern, every)}
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(perms)
        counts[role] = len(perms)
    return counts
