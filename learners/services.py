"""Writes for learners. Registration (learner + onboarding path) lives in lessons.services."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from learners.errors import ChannelUnavailableError
from learners.models import Channel, Cohort, Learner

# Fields a learner may change about themself through self-service.
SELF_SERVICE_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "phone",
        "slack_user_id",
        "preferred_channel",
        "time_zone",
        "preferred_send_time",
        "quiet_hours_start",
        "quiet_hours_end",
    }
)

_CONSTRAINT_FIELDS = {
    "learners_learner_email_ci_uniq": ("email", "A learner with this email already exists."),
    "learners_learner_employee_id_key": (
        "employee_id",
        "A learner with this employee id already exists.",
    ),
}


def _check_email_free(*, email: str, exclude_pk: int | None = None) -> None:
    taken = Learner.objects.filter(email__iexact=email)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if email and taken.exists():
        raise ValidationError({"email": "A learner with this email already exists."})


def _save_checked(learner: Learner) -> None:
    """Save in a savepoint; a uniqueness race lost at the database becomes a field error."""
    try:
        with transaction.atomic():
            learner.save()
    except IntegrityError as exc:
        text = str(exc)
        for constraint, (field, message) in _CONSTRAINT_FIELDS.items():
            if constraint in text or (field == "employee_id" and "employee_id" in text):
                raise ValidationError({field: message}) from exc
        raise


def _full_clean(learner: Learner) -> None:
    errors: dict[str, list[str]] = {}
    try:
        # The case-insensitive email constraint is checked by _check_email_free with a
        # field-level message; validate_unique still covers employee_id.
        learner.full_clean(validate_constraints=False)
    except ValidationError as exc:
        errors = exc.message_dict
    try:
        _check_email_free(email=learner.email, exclude_pk=learner.pk)
    except ValidationError as exc:
        errors.setdefault("email", []).extend(exc.message_dict["email"])
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def learner_create(
    *,
    employee_id: str,
    first_name: str,
    last_name: str,
    email: str,
    role: str,
    phone: str = "",
    preferred_channel: str = Channel.EMAIL,
    knowledge_level: str = "beginner",
    slack_user_id: str = "",
    time_zone: str = "UTC",
    preferred_send_time: datetime.time | None = None,
    store: Cohort | None = None,
    region: Cohort | None = None,
    team: Cohort | None = None,
    manager: Learner | None = None,
    metadata: dict[str, Any] | None = None,
    quiet_hours_start: datetime.time | None = None,
    quiet_hours_end: datetime.time | None = None,
    slack_opted_out: bool = False,
    sms_opted_out: bool = False,
    email_opted_out: bool = False,
    password: str | None = None,
) -> Learner:
    """Validate and create a learner; with `password`, also their self-service account.

    Raises django ValidationError with field errors; nothing is written on failure.
    """
    learner = Learner(
        employee_id=(employee_id or "").strip(),
        first_name=(first_name or "").strip(),
        last_name=(last_name or "").strip(),
        email=(email or "").strip().lower(),
        role=role,
        phone=(phone or "").strip(),
        preferred_channel=preferred_channel or Channel.EMAIL,
        knowledge_level=knowledge_level or "beginner",
        slack_user_id=(slack_user_id or "").strip(),
        time_zone=time_zone or "UTC",
        store=store,
        region=region,
        team=team,
        manager=manager,
        metadata=metadata or {},
        quiet_hours_start=quiet_hours_start,
        quiet_hours_end=quiet_hours_end,
        slack_opted_out=slack_opted_out,
        sms_opted_out=sms_opted_out,
        email_opted_out=email_opted_out,
    )
    if preferred_send_time is not None:
        learner.preferred_send_time = preferred_send_time
    _full_clean(learner)
    if password is not None:
        learner.user = _user_create_for(learner=learner, password=password)
    _save_checked(learner)
    return learner


def _user_create_for(*, learner: Learner, password: str):
    User = get_user_model()
    username = learner.employee_id
    if User.objects.filter(username=username).exists():
        raise ValidationError({"employee_id": "An account for this employee id already exists."})
    user = User(
        username=username,
        email=learner.email,
        first_name=learner.first_name,
        last_name=learner.last_name,
    )
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # a concurrent registration took the username first
        raise ValidationError(
            {"employee_id": "An account for this employee id already exists."}
        ) from exc
    return user


@transaction.atomic
def learner_update(*, learner: Learner, data: dict[str, Any], acting_user=None) -> Learner:
    """Apply `data` (model field names) to the learner after full validation."""
    learner = Learner.objects.select_for_update().get(pk=learner.pk)
    for field, value in data.items():
        if field == "email":
            value = (value or "").strip().lower()
        setattr(learner, field, value)
    _full_clean(learner)
    _save_checked(learner)
    return learner


@transaction.atomic
def learner_change_channel(*, learner: Learner, channel: str, acting_user=None) -> Learner:
    """Switch the preferred channel; refuses a channel the learner cannot receive on."""
    learner = Learner.objects.select_for_update().get(pk=learner.pk)
    learner.delivery_address(channel)  # raises ChannelUnavailableError
    if learner.preferred_channel != channel:
        learner.preferred_channel = channel
        learner.save(update_fields=["preferred_channel", "updated_at"])
    return learner


@transaction.atomic
def learner_set_channel_opt_out(*, learner: Learner, channel: str, opted_out: bool) -> Learner:
    """Record an opt-out (e.g. SMS STOP) or opt-in (START) for one channel."""
    if channel not in Channel.values:
        raise ChannelUnavailableError(f"Unknown channel {channel!r}.", channel=channel)
    field = f"{channel}_opted_out"
    Learner.objects.filter(pk=learner.pk).update(**{field: opted_out, "updated_at": timezone.now()})
    learner.refresh_from_db(fields=[field, "updated_at"])
    return learner


def cohort_get_or_create(*, kind: str, name: str) -> Cohort:
    cohort, _ = Cohort.objects.get_or_create(kind=kind, name=name.strip())
    return cohort


def learner_mark_onboarded(*, learner: Learner) -> None:
    """Called when the learner completes their onboarding path."""
    Learner.objects.filter(pk=learner.pk, onboarding_completed=False).update(
        onboarding_completed=True, updated_at=timezone.now()
    )
