"""
Writes for learners. Registration (claiming a roster entry + the onboarding path) lives in
lessons.services; the proofs it and contact changes rely on live here.

Proofs: a `LearnerVerification` holds an HMAC of a short code sent to an address (the
roster email for a claim, the new phone or Slack id for a contact change). Callers check a
code with `verification_attempt` inside their transaction and raise
VerificationCodeInvalidError only after it commits, so a wrong answer is counted even
though the request fails.
"""

from __future__ import annotations

import datetime
import re
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from core.outbox import publish_event
from learners.errors import ChannelUnavailableError
from learners.models import Channel, Cohort, Learner, LearnerVerification, validate_e164

Purpose = LearnerVerification.Purpose

# Contact fields a learner changes only by proving the new value (a code sent there).
PROVEN_CONTACT_FIELDS = {"phone": Purpose.PHONE, "slack_user_id": Purpose.SLACK}
CHANNEL_PURPOSES = {Channel.SMS: Purpose.PHONE, Channel.SLACK: Purpose.SLACK}
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")

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
        raise ValidationError(
            {"email": ValidationError("A learner with this email already exists.", code="unique")}
        )


def _save_checked(learner: Learner) -> None:
    """Save in a savepoint; a uniqueness race lost at the database becomes a field error."""
    try:
        with transaction.atomic():
            learner.save()
    except IntegrityError as exc:
        text = str(exc)
        for constraint, (field, message) in _CONSTRAINT_FIELDS.items():
            if constraint in text or (field == "employee_id" and "employee_id" in text):
                raise ValidationError({field: ValidationError(message, code="unique")}) from exc
        raise


def _full_clean(learner: Learner) -> None:
    # ValidationError instances, not messages: their codes say "unique" (409) or "rule" (422).
    errors: dict[str, list[ValidationError]] = {}
    try:
        # The case-insensitive email constraint is checked by _check_email_free with a
        # field-level message; validate_unique still covers employee_id.
        learner.full_clean(validate_constraints=False)
    except ValidationError as exc:
        errors = dict(exc.error_dict)
    try:
        _check_email_free(email=learner.email, exclude_pk=learner.pk)
    except ValidationError as exc:
        errors.setdefault("email", []).extend(exc.error_dict["email"])
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
    """The learner's self-service account; names and email come from the learner record."""
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


# --- proofs (one-time codes) --------------------------------------------------------------


def _code_hash(verification: LearnerVerification, code: str) -> str:
    # HMAC under SECRET_KEY and the row id: six digits are few, so a bare hash of a leaked
    # table would be reversed at once; attempts are limited online.
    return salted_hmac(
        "learners.verification", f"{verification.pk}:{code}", algorithm="sha256"
    ).hexdigest()


def _open_verifications(*, learner: Learner, purpose: str):
    return LearnerVerification.objects.filter(
        learner=learner,
        purpose=purpose,
        confirmed_at__isnull=True,
        voided_at__isnull=True,
        expires_at__gt=timezone.now(),
    )


def verification_pending(*, learner: Learner, purpose: str) -> LearnerVerification | None:
    """The learner's live code for `purpose` (e.g. a phone waiting to be proven), if any."""
    return _open_verifications(learner=learner, purpose=purpose).first()


def verification_start(
    *, learner: Learner, purpose: str, address: str, acting_user=None
) -> LearnerVerification:
    """A new code for `purpose`, sent to `address` after commit; earlier ones become void."""
    now = timezone.now()
    _open_verifications(learner=learner, purpose=purpose).update(voided_at=now)
    verification = LearnerVerification.objects.create(
        learner=learner,
        purpose=purpose,
        address=address,
        expires_at=now + datetime.timedelta(minutes=settings.IDENTITY_CODE_MINUTES),
        acting_user=acting_user,
    )
    # Delivery sends the code (delivery.verification): learners sits below delivery.
    publish_event(
        "learner.verification_requested",
        {"verification_id": verification.pk, "purpose": verification.purpose},
    )
    return verification


def verification_code_issue(*, verification_id: int) -> tuple[LearnerVerification, str] | None:
    """Make the code for a live verification (its HMAC replaces any earlier one) to send."""
    code = f"{secrets.randbelow(10**6):06d}"
    with transaction.atomic():
        verification = (
            LearnerVerification.objects.select_for_update()
            .filter(
                pk=verification_id,
                confirmed_at__isnull=True,
                voided_at__isnull=True,
                expires_at__gt=timezone.now(),
            )
            .first()
        )
        if verification is None:
            return None
        verification.code_hash = _code_hash(verification, code)
        verification.sent_at = timezone.now()
        verification.save(update_fields=["code_hash", "sent_at"])
    return verification, code


def verification_attempt(
    *, learner: Learner | None, purpose: str, code: str
) -> LearnerVerification | None:
    """Check `code` against the learner's live code for `purpose`, inside the caller's
    transaction. Right: the verification is spent and returned. Wrong: the attempt is
    counted (the code is void after IDENTITY_CODE_MAX_ATTEMPTS) and None is returned; the
    caller commits, then refuses."""
    if learner is None:
        return None
    verification = _open_verifications(learner=learner, purpose=purpose).select_for_update().first()
    if verification is None or not verification.code_hash:
        return None
    if constant_time_compare(verification.code_hash, _code_hash(verification, str(code).strip())):
        verification.confirmed_at = timezone.now()
        verification.save(update_fields=["confirmed_at"])
        return verification
    verification.attempts += 1
    fields = ["attempts"]
    if verification.attempts >= settings.IDENTITY_CODE_MAX_ATTEMPTS:
        verification.voided_at = timezone.now()
        fields.append("voided_at")
    verification.save(update_fields=fields)
    return None


# --- claiming a roster entry --------------------------------------------------------------


def learner_claimable(*, employee_id: str = "", email: str = "") -> Learner | None:
    """The HR roster entry (imported, not yet linked to an account) named by either key."""
    employee_id, email = (employee_id or "").strip(), (email or "").strip()
    if not employee_id and not email:
        return None
    query = Q(employee_id=employee_id) if employee_id else Q(email__iexact=email)
    return Learner.objects.filter(query, user__isnull=True).first()


@transaction.atomic
def learner_claim_request(*, employee_id: str = "", email: str = "", acting_user=None) -> None:
    """Email a claim code to the roster address of an unclaimed employee.

    Returns nothing whether or not the employee exists or is already claimed: the caller
    learns nothing. The address is the roster's, never one from the request.
    """
    learner = learner_claimable(employee_id=employee_id, email=email)
    if learner is None or not learner.email:
        return
    verification_start(
        learner=learner, purpose=Purpose.CLAIM, address=learner.email, acting_user=acting_user
    )


def learner_claim(*, learner: Learner, password: str) -> Learner:
    """Give a roster entry whose claim code was just proven its account (caller's
    transaction). Role, store, cohorts and email stay the roster's."""
    learner = Learner.objects.select_for_update().get(pk=learner.pk)
    if learner.user_id is not None:
        raise ValidationError({"employee_id": "This employee is already registered."})
    learner.user = _user_create_for(learner=learner, password=password)
    learner.save(update_fields=["user", "updated_at"])
    return learner


# --- contacts proven before use -----------------------------------------------------------


@transaction.atomic
def learner_self_update(*, learner: Learner, data: dict[str, Any], acting_user=None) -> Learner:
    """A learner's own change through self-service.

    A new phone or Slack id is not applied: it waits as a pending verification and a code
    goes to it (SMS / Slack DM); `learner_contact_confirm` applies it. Until then messages
    keep going to the proven address (or nowhere). Removing one applies at once.
    """
    learner = Learner.objects.select_for_update().get(pk=learner.pk)
    direct = {k: v for k, v in data.items() if k in SELF_SERVICE_FIELDS}
    pending: dict[str, str] = {}
    for field, purpose in PROVEN_CONTACT_FIELDS.items():
        if field not in direct:
            continue
        value = (direct.pop(field) or "").strip()
        if value == getattr(learner, field):
            continue
        if value:
            if field == "slack_user_id" and not SLACK_USER_ID.fullmatch(value):
                # A channel id (C…, G…) would post the code where others can read it.
                raise ValidationError({field: "Enter your Slack member id (U… or W…)."})
            pending[purpose] = value
        else:
            direct[field] = ""
    learner = learner_update(learner=learner, data=direct, acting_user=acting_user)
    for purpose, value in pending.items():
        verification_start(learner=learner, purpose=purpose, address=value)
    return learner


def learner_contact_confirm(*, learner: Learner, channel: str, code: str) -> Learner:
    """Apply the pending phone / Slack id whose code this is; VerificationCodeInvalidError
    otherwise (the wrong attempt is counted first)."""
    from learners.errors import VerificationCodeInvalidError

    purpose = CHANNEL_PURPOSES.get(channel)
    if purpose is None:
        raise ValidationError({"channel": "Choose sms or slack."})
    with transaction.atomic():
        learner = Learner.objects.select_for_update().get(pk=learner.pk)
        verification = verification_attempt(learner=learner, purpose=purpose, code=code)
        if verification is not None:
            if purpose == Purpose.PHONE:
                validate_e164(verification.address)
                learner.phone = verification.address
                # Consent belongs to the number: if it said STOP for anyone, it still has.
                learner.sms_opted_out = (
                    Learner.objects.filter(phone=learner.phone, sms_opted_out=True)
                    .exclude(pk=learner.pk)
                    .exists()
                )
                learner.save(update_fields=["phone", "sms_opted_out", "updated_at"])
            else:
                learner.slack_user_id = verification.address
                learner.save(update_fields=["slack_user_id", "updated_at"])
            return learner
    raise VerificationCodeInvalidError()


# --- consent per address ------------------------------------------------------------------


@transaction.atomic
def learner_consent_set_for_address(
    *, channel: str, address: str, opted_out: bool
) -> list[Learner]:
    """Opt out of (or back into) `channel` every learner whose address on it is `address`:
    consent belongs to the address (one phone's STOP stops every profile on that phone).
    Returns the learners changed or confirmed, for the caller's consent records."""
    fields = {Channel.SMS: "phone", Channel.SLACK: "slack_user_id", Channel.EMAIL: "email"}
    if channel not in fields:
        raise ChannelUnavailableError(f"Unknown channel {channel!r}.", channel=channel)
    address = (address or "").strip()
    if not address:
        return []
    field = fields[channel] + ("__iexact" if channel == Channel.EMAIL else "")
    lookup = {field: address}
    learners = list(Learner.objects.select_for_update().filter(**lookup).order_by("pk"))
    Learner.objects.filter(pk__in=[learner.pk for learner in learners]).update(
        **{f"{channel}_opted_out": opted_out, "updated_at": timezone.now()}
    )
    for learner in learners:
        setattr(learner, f"{channel}_opted_out", opted_out)
    return learners
