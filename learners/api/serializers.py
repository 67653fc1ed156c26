from rest_framework import serializers

from core.api.fields import PrimaryKeyRelatedField
from learners.models import Cohort, Learner, LearnerVerification, available_time_zones
from learners.services import SLACK_USER_ID, verification_pending


class TimeZoneField(serializers.ChoiceField):
    """An IANA time zone name; the schema lists them all (the model's validator's list)."""

    def __init__(self, **kwargs):
        super().__init__(choices=sorted(available_time_zones()), **kwargs)


class CohortSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cohort
        fields = ["id", "kind", "name", "created_at"]
        read_only_fields = ["created_at"]


LEARNER_FIELDS = [
    "id",
    "employee_id",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "role",
    "knowledge_level",
    "onboarding_completed",
    "slack_user_id",
    "preferred_channel",
    "time_zone",
    "preferred_send_time",
    "quiet_hours_start",
    "quiet_hours_end",
    "slack_opted_out",
    "sms_opted_out",
    "email_opted_out",
    "manager",
    "store",
    "region",
    "team",
    "metadata",
    "user",
    "created_at",
    "updated_at",
]


class LearnerSerializer(serializers.ModelSerializer):
    """Staff view of a learner. Field validators come from the model (email, E.164 phone,
    choices, time zone); cross-field rules and uniqueness are enforced by the services."""

    serializer_related_field = PrimaryKeyRelatedField  # manager: an unknown id is a 404
    full_name = serializers.CharField(read_only=True)
    time_zone = TimeZoneField(required=False)
    store = PrimaryKeyRelatedField(
        queryset=Cohort.objects.filter(kind=Cohort.Kind.STORE), allow_null=True, required=False
    )
    region = PrimaryKeyRelatedField(
        queryset=Cohort.objects.filter(kind=Cohort.Kind.REGION), allow_null=True, required=False
    )
    team = PrimaryKeyRelatedField(
        queryset=Cohort.objects.filter(kind=Cohort.Kind.TEAM), allow_null=True, required=False
    )

    class Meta:
        model = Learner
        fields = LEARNER_FIELDS
        read_only_fields = ["user", "created_at", "updated_at", "onboarding_completed"]

    def validate_email(self, value: str) -> str:
        return value.strip().lower()


class MeSerializer(serializers.ModelSerializer):
    """A learner's own profile: identity and organisation are read-only to them.

    A new `phone` or `slack_user_id` is not applied at once: it shows as `pending_phone` /
    `pending_slack_user_id` until the code sent there is confirmed (me/contacts/verify/).
    """

    full_name = serializers.CharField(read_only=True)
    time_zone = TimeZoneField(required=False)
    # A member id (U…, W…), never a channel: the proof code is sent there.
    slack_user_id = serializers.RegexField(
        rf"^{SLACK_USER_ID.pattern}$", max_length=32, required=False, allow_blank=True
    )
    pending_phone = serializers.SerializerMethodField()
    pending_slack_user_id = serializers.SerializerMethodField()

    class Meta:
        model = Learner
        fields = [
            "id",
            "employee_id",
            "first_name",
            "last_name",
            "full_name",
            "email",
            "phone",
            "role",
            "knowledge_level",
            "onboarding_completed",
            "slack_user_id",
            "pending_phone",
            "pending_slack_user_id",
            "preferred_channel",
            "time_zone",
            "preferred_send_time",
            "quiet_hours_start",
            "quiet_hours_end",
            "store",
            "region",
            "team",
        ]
        read_only_fields = [
            "id",
            "employee_id",
            "email",
            "role",
            "knowledge_level",
            "onboarding_completed",
            "store",
            "region",
            "team",
        ]

    def _pending(self, obj: Learner, purpose: str) -> str | None:
        verification = verification_pending(learner=obj, purpose=purpose)
        return verification.address if verification else None

    def get_pending_phone(self, obj: Learner) -> str | None:
        return self._pending(obj, LearnerVerification.Purpose.PHONE)

    def get_pending_slack_user_id(self, obj: Learner) -> str | None:
        return self._pending(obj, LearnerVerification.Purpose.SLACK)


class ContactVerifySerializer(serializers.Serializer):
    channel = serializers.ChoiceField(
        choices=[("sms", "SMS (the pending phone)"), ("slack", "Slack (the pending Slack id)")]
    )
    code = serializers.CharField(max_length=12)
