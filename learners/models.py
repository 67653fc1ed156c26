"""
Learners: the store associates Frontline trains, and the cohorts they belong to.

Validation lives in field validators and `Learner.clean()` so that `full_clean()`, the
API serializers (which reuse the model validators) and the CSV import agree on one rule
set; uniqueness and choice membership are also database constraints, because the import
writes in bulk and must not rely on Python checks alone.
"""

from __future__ import annotations

import datetime
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, validate_email
from django.db import models
from django.db.models.functions import Lower

from learners.errors import ChannelUnavailableError

E164_REGEX = r"^\+[1-9][0-9]{1,14}$"
validate_e164 = RegexValidator(
    E164_REGEX, message="Enter a phone number in E.164 format, e.g. +15551234567.", code="e164"
)


def validate_time_zone(value: str) -> None:
    if value not in available_time_zones():
        raise ValidationError(f"Unknown time zone {value!r}.", code="time_zone")


_TIME_ZONES: frozenset[str] | None = None


def available_time_zones() -> frozenset[str]:
    global _TIME_ZONES
    if _TIME_ZONES is None:
        _TIME_ZONES = frozenset(zoneinfo.available_timezones()) | {"UTC"}
    return _TIME_ZONES


class Role(models.TextChoices):
    SALES_ASSOCIATE = "sales_associate", "Sales associate"
    MANAGER = "manager", "Manager"
    REGIONAL_DIRECTOR = "regional_director", "Regional director"


class KnowledgeLevel(models.TextChoices):
    BEGINNER = "beginner", "Beginner"
    INTERMEDIATE = "intermediate", "Intermediate"
    ADVANCED = "advanced", "Advanced"


class Channel(models.TextChoices):
    SLACK = "slack", "Slack"
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"


class Cohort(models.Model):
    """A group learners report into: a store, a region or a team."""

    class Kind(models.TextChoices):
        STORE = "store", "Store"
        REGION = "region", "Region"
        TEAM = "team", "Team"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "name"], name="learners_cohort_kind_name_uniq"),
            models.CheckConstraint(
                condition=models.Q(kind__in=["store", "region", "team"]),
                name="learners_cohort_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"


class LearnerQuerySet(models.QuerySet):
    def onboarding(self) -> LearnerQuerySet:
        return self.filter(onboarding_completed=False)

    def active(self) -> LearnerQuerySet:
        return self.filter(onboarding_completed=True)

    def by_role(self, role: str) -> LearnerQuerySet:
        return self.filter(role=role)

    def in_cohort(self, cohort: Cohort) -> LearnerQuerySet:
        return self.filter(models.Q(store=cohort) | models.Q(region=cohort) | models.Q(team=cohort))

    def reachable_on(self, channel: str) -> LearnerQuerySet:
        """Learners with an address on `channel` who have not opted out of it."""
        if channel == Channel.SLACK:
            return self.exclude(slack_user_id="").filter(slack_opted_out=False)
        if channel == Channel.SMS:
            return self.exclude(phone="").filter(sms_opted_out=False)
        if channel == Channel.EMAIL:
            return self.exclude(email="").filter(email_opted_out=False)
        return self.none()


class Learner(models.Model):
    """A store associate (seed 000 §2.1) with the delivery preferences of DESIGN.md."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="learner",
        help_text="Django account the learner signs in with for self-service.",
    )
    employee_id = models.CharField(max_length=64, unique=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.CharField(max_length=254, validators=[validate_email])
    phone = models.CharField(max_length=16, blank=True, validators=[validate_e164])
    role = models.CharField(max_length=32, choices=Role.choices)
    knowledge_level = models.CharField(
        max_length=16, choices=KnowledgeLevel.choices, default=KnowledgeLevel.BEGINNER
    )
    onboarding_completed = models.BooleanField(default=False)
    slack_user_id = models.CharField(max_length=32, blank=True)
    preferred_channel = models.CharField(
        max_length=8, choices=Channel.choices, default=Channel.EMAIL
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    preferred_send_time = models.TimeField(
        default=datetime.time(9, 0), help_text="Local time of day the daily lesson is sent."
    )
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    slack_opted_out = models.BooleanField(default=False)
    sms_opted_out = models.BooleanField(default=False, help_text="Set by an SMS STOP reply.")
    email_opted_out = models.BooleanField(default=False)
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    store = models.ForeignKey(
        Cohort,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="store_learners",
        limit_choices_to={"kind": Cohort.Kind.STORE},
    )
    region = models.ForeignKey(
        Cohort,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="region_learners",
        limit_choices_to={"kind": Cohort.Kind.REGION},
    )
    team = models.ForeignKey(
        Cohort,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="team_learners",
        limit_choices_to={"kind": Cohort.Kind.TEAM},
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LearnerQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            # Emails are stored lower-cased; the functional index also catches any writer
            # that forgets to normalise.
            models.UniqueConstraint(Lower("email"), name="learners_learner_email_ci_uniq"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="learners_learner_role_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(preferred_channel__in=Channel.values),
                name="learners_learner_channel_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(knowledge_level__in=KnowledgeLevel.values),
                name="learners_learner_knowledge_level_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(phone="") | models.Q(phone__regex=E164_REGEX),
                name="learners_learner_phone_e164",
            ),
            models.CheckConstraint(
                condition=~models.Q(employee_id=""), name="learners_learner_employee_id_present"
            ),
        ]
        indexes = [
            models.Index(fields=["role"], name="learners_role_idx"),
            models.Index(fields=["onboarding_completed"], name="learners_onboarding_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.employee_id})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_beginner(self) -> bool:
        return self.knowledge_level == KnowledgeLevel.BEGINNER

    def clean(self) -> None:
        super().clean()
        self.email = (self.email or "").strip().lower()
        errors: dict[str, str] = {}
        if self.preferred_channel == Channel.SLACK and not self.slack_user_id:
            errors["slack_user_id"] = "A Slack user id is required when Slack is preferred."
        if self.preferred_channel == Channel.SMS and not self.phone:
            errors["phone"] = "A phone number is required when SMS is preferred."
        if (self.quiet_hours_start is None) != (self.quiet_hours_end is None):
            errors["quiet_hours_end"] = "Give both ends of the quiet hours, or neither."
        if self.manager_id is not None and self.pk is not None and self.manager_id == self.pk:
            errors["manager"] = "A learner cannot be their own manager."
        for kind in ("store", "region", "team"):
            cohort = getattr(self, kind) if getattr(self, f"{kind}_id") else None
            if cohort is not None and cohort.kind != kind:
                errors[kind] = f"{cohort} is not a {kind}."
        if errors:
            # Rules across fields, which a schema cannot state: the API answers them 422.
            raise ValidationError({k: ValidationError(v, code="rule") for k, v in errors.items()})

    def is_opted_out(self, channel: str) -> bool:
        return {
            Channel.SLACK: self.slack_opted_out,
            Channel.SMS: self.sms_opted_out,
            Channel.EMAIL: self.email_opted_out,
        }.get(channel, True)

    def delivery_address(self, channel: str | None = None) -> str:
        """The address to reach this learner on `channel` (default: the preferred one).

        Raises ChannelUnavailableError for an unknown channel, a missing address or an
        opted-out channel, so callers can fall back to the next channel.
        """
        channel = channel or self.preferred_channel
        if channel not in Channel.values:
            raise ChannelUnavailableError(
                f"Unknown channel {channel!r}.", channel=channel, reason="unknown_channel"
            )
        address = {
            Channel.SLACK: self.slack_user_id,
            Channel.SMS: self.phone,
            Channel.EMAIL: self.email,
        }[channel]
        if not address:
            raise ChannelUnavailableError(
                f"{self.full_name} has no {channel} address.", channel=channel, reason="no_address"
            )
        if self.is_opted_out(channel):
            raise ChannelUnavailableError(
                f"{self.full_name} opted out of {channel}.", channel=channel, reason="opted_out"
            )
        return address

    def in_quiet_hours(self, local_time: datetime.time) -> bool:
        start, end = self.quiet_hours_start, self.quiet_hours_end
        if start is None or end is None:
            return False
        if start <= end:
            return start <= local_time < end
        return local_time >= start or local_time < end  # spans midnight, e.g. 21:00-07:00


class LearnerVerification(models.Model):
    """A one-time code that proves something before it counts: that the person claiming a
    roster entry reads its email, or that a new phone / Slack id is the learner's.

    Only an HMAC of the code is stored (made and sent by the sending task); a code expires,
    is spent by its first right answer, and is void after too many wrong ones or once a
    newer code for the same purpose is asked for. For contacts, `address` is the pending
    value: it becomes the learner's address only when the code is confirmed.
    """

    class Purpose(models.TextChoices):
        CLAIM = "claim", "Claim the roster entry (code by email)"
        PHONE = "phone", "Prove a phone number (code by SMS)"
        SLACK = "slack", "Prove a Slack user id (code by Slack DM)"

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="verifications")
    purpose = models.CharField(max_length=8, choices=Purpose.choices)
    address = models.CharField(max_length=254, help_text="Where the code goes.")
    code_hash = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    acting_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Staff who sent it as an invite; empty when the learner asked.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["learner", "purpose", "created_at"], name="learners_verif_idx")
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} for {self.learner_id}"
