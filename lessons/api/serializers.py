from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from core.api.exceptions import rule_violation
from core.api.fields import SlugRelatedField
from core.errors import NotFoundError
from lessons.models import (
    LearningPath,
    Microlesson,
    PathTemplate,
    Topic,
    validate_quiz,
    validate_string_list,
)


def _django_errors_to_drf(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(exc.message_dict)


class TopicSerializer(serializers.ModelSerializer):
    class Meta:
        model = Topic
        fields = ["id", "slug", "title", "description", "tags", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def validate_tags(self, value):
        try:
            validate_string_list(value, field="tags")
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["tags"]) from exc
        return value


class MicrolessonSerializer(serializers.ModelSerializer):
    """Staff view: every field, the answer included. Quiz rules as in the model."""

    topic = SlugRelatedField(slug_field="slug", queryset=Topic.objects.all())

    class Meta:
        model = Microlesson
        fields = [
            "id",
            "key",
            "topic",
            "title",
            "difficulty",
            "source",
            "content",
            "key_points",
            "scenario",
            "quiz_question",
            "quiz_options",
            "correct_answer",
            "explanation",
            "generated_for",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["source", "generated_for", "created_at", "updated_at"]
        extra_kwargs = {"key": {"required": True, "allow_null": False}}

    def validate(self, attrs):
        options = attrs.get("quiz_options", getattr(self.instance, "quiz_options", None))
        correct = attrs.get("correct_answer", getattr(self.instance, "correct_answer", None))
        try:
            validate_quiz(options=options, correct_answer=correct)
            validate_string_list(
                attrs.get("key_points", getattr(self.instance, "key_points", [])),
                field="key_points",
            )
        except DjangoValidationError as exc:
            raise _django_errors_to_drf(exc) from exc
        return attrs


class LearnerLessonSerializer(serializers.ModelSerializer):
    """A learner's view of a lesson: the quiz without its answer."""

    topic = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    completed = serializers.SerializerMethodField()

    class Meta:
        model = Microlesson
        fields = [
            "id",
            "topic",
            "title",
            "difficulty",
            "source",
            "content",
            "key_points",
            "scenario",
            "quiz_question",
            "quiz_options",
            "completed",
        ]

    def get_completed(self, obj) -> bool:
        return obj.pk in self.context.get("completed_ids", set())


class PathTemplateSerializer(serializers.ModelSerializer):
    topics = serializers.ListField(
        child=serializers.CharField(max_length=100),
        min_length=1,
        help_text="Topic slugs in the order the path teaches them.",
    )

    class Meta:
        model = PathTemplate
        fields = ["id", "slug", "title", "description", "difficulty", "topics"]

    def validate_topics(self, value: list[str]) -> list[str]:
        known = set(Topic.objects.filter(slug__in=value).values_list("slug", flat=True))
        missing = [slug for slug in value if slug not in known]
        if missing:
            raise NotFoundError(
                f"Unknown topics: {', '.join(missing)[:200]}.", field="topics", value=missing[:10]
            )
        return value

    def validate(self, attrs):
        candidate = PathTemplate(**{**self._current(), **attrs})
        try:
            candidate.clean()
        except DjangoValidationError as exc:
            raise _django_errors_to_drf(exc) from exc
        return attrs

    def _current(self) -> dict:
        if self.instance is None:
            return {}
        return {f: getattr(self.instance, f) for f in ("slug", "title", "topics", "difficulty")}


class LearningPathSerializer(serializers.ModelSerializer):
    template = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    current_topic = serializers.CharField(source="current_topic_slug", read_only=True)

    class Meta:
        model = LearningPath
        fields = [
            "id",
            "learner",
            "template",
            "name",
            "status",
            "difficulty",
            "topics",
            "current_position",
            "current_topic",
            "completion_percentage",
            "started_at",
            "paused_at",
            "completed_at",
            "created_at",
        ]
        read_only_fields = fields


class EnrolSerializer(serializers.Serializer):
    learner = serializers.IntegerField()
    template = serializers.SlugField()


class TransitionSerializer(serializers.Serializer):
    transition = serializers.ChoiceField(choices=["start", "pause", "resume", "complete"])


class RegistrationSerializer(serializers.Serializer):
    """Claiming an HR roster entry, in two steps on one endpoint.

    Step 1: `employee_id` (or `email`) alone asks for a code, emailed to the roster address.
    Step 2: the same key with `code` and `password` creates the account. Nothing else is
    read: names, email, role, store and cohorts come from the roster.
    """

    employee_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    code = serializers.CharField(
        max_length=12, required=False, help_text="Step 2: the code from the email."
    )
    password = serializers.CharField(
        write_only=True,
        required=False,
        max_length=256,
        style={"input_type": "password"},
        trim_whitespace=False,
        help_text="Step 2: the password of the new account.",
    )

    def to_internal_value(self, data):
        # Seed 000 §7.2 nests the fields under "learner"; a flat body works too.
        if isinstance(data, dict) and isinstance(data.get("learner"), dict):
            data = data["learner"]
        return super().to_internal_value(data)

    def validate(self, attrs):
        if not (attrs.get("employee_id") or "").strip() and not attrs.get("email"):
            raise rule_violation({"employee_id": "Give your employee id or email."})
        if "code" in attrs and not attrs.get("password"):
            raise rule_violation({"password": "Choose a password."})
        if "password" in attrs and "code" not in attrs:
            raise rule_violation({"code": "Enter the code from the email."})
        return attrs


class RegistrationRequestedSerializer(serializers.Serializer):
    detail = serializers.CharField()
