from rest_framework import serializers

from learners.models import Cohort, Learner, LearnerVerification
from learners.services import verification_pending


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

    full_name = serializers.CharField(read_only=True)
    store = serializers.PrimaryKeyRelatedField(
        queryset=Cohort.objects.filter(kind=Cohort.Kind.STORE), allow_null=True, required=False
    )
    region = serializers.PrimaryKeyRelatedField(
        queryset=Cohort.objects.filter(kind=Cohort.Kind.REGION), allow_null=True, required=False
    )
    team = serializers.PrimaryKeyRelatedField(
        queryset=Cohort.objects.filter(kind=Cohort.Kind.TEAM), allow_null=True, required=False
    )

    class Meta:
        model = Learner
        fields = LEARNER_FIELDS
        read_only_fields = ["user", "created_at", "updated_at", "onboarding_completed"]
        extra_kwargs = {"email": {"validators": []}}  # the email validator is re-added below

    def validate_email(self, value: str) -> str:
        from django.core.validators import validate_email

        value = value.strip().lower()
        validate_email(value)
        return value


class MeSerializer(serializers.ModelSerializer):
    """A learner's own profile: identity and organisation are read-only to them.

    A new `phone` or `slack_user_id` is not applied at once: it shows as `pending_phone` /
    `pending_slack_user_id` until the code sent there is confirmed (me/contacts/verify/).
    """

    full_name = serializers.CharField(read_only=True)
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
