from rest_framework import serializers

from assessments.models import AnswerChannel, AssessmentResult
from lessons.api.serializers import LearnerLessonSerializer


class AssessmentResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = AssessmentResult
        fields = [
            "id",
            "learner",
            "microlesson",
            "user_answer",
            "is_correct",
            "time_taken_seconds",
            "channel",
            "counted",
            "is_review",
            "attempted_at",
        ]
        read_only_fields = fields


class SubmitAnswerSerializer(serializers.Serializer):
    """Seed 000 §7.4: {microlesson_id, answer, time_taken}; the channel defaults to web."""

    microlesson_id = serializers.IntegerField()
    answer = serializers.IntegerField()
    time_taken = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=86_400, help_text="Seconds."
    )
    channel = serializers.ChoiceField(choices=AnswerChannel.choices, default=AnswerChannel.WEB)


class AnswerOutcomeSerializer(serializers.Serializer):
    result = AssessmentResultSerializer()
    is_correct = serializers.BooleanField()
    counted = serializers.BooleanField()
    correct_answer = serializers.IntegerField()
    explanation = serializers.CharField()
    lesson_completed = serializers.BooleanField()
    advanced_paths = serializers.SerializerMethodField()
    completed_paths = serializers.SerializerMethodField()
    review_due_at = serializers.SerializerMethodField()

    def get_advanced_paths(self, outcome) -> list[int]:
        return [p.pk for p in outcome.advanced_paths]

    def get_completed_paths(self, outcome) -> list[int]:
        return [p.pk for p in outcome.completed_paths]

    def get_review_due_at(self, outcome) -> str | None:
        review = outcome.review
        if review is None or review.retired_at is not None:
            return None
        return review.due_at.isoformat()


class NextLessonSerializer(serializers.Serializer):
    kind = serializers.CharField()
    reason = serializers.CharField()
    source = serializers.CharField(allow_null=True)
    fallback_reason = serializers.CharField(allow_null=True)
    learning_path = serializers.SerializerMethodField()
    lesson = serializers.SerializerMethodField()

    def get_learning_path(self, nxt) -> int | None:
        return nxt.learning_path.pk if nxt.learning_path else None

    def get_lesson(self, nxt) -> dict | None:
        if nxt.microlesson is None:
            return None
        return LearnerLessonSerializer(nxt.microlesson, context=self.context).data
