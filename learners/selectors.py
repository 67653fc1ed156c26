"""Reads for learners."""

from __future__ import annotations

from django.db.models import QuerySet

from learners.errors import LearnerNotFoundError
from learners.models import Learner


def learner_for_user(*, user) -> Learner:
    """The learner profile of a signed-in account; LearnerNotFoundError if it has none."""
    if user is None or not user.is_authenticated:
        raise LearnerNotFoundError()
    try:
        return Learner.objects.select_related("store", "region", "team").get(user=user)
    except Learner.DoesNotExist as exc:
        raise LearnerNotFoundError() from exc


def learner_list(*, filters: dict | None = None) -> QuerySet[Learner]:
    queryset = Learner.objects.select_related("store", "region", "team", "manager")
    return queryset.filter(**(filters or {}))
