"""Assessment results (quiz answers) and the spaced-review schedule of missed questions."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


class AnswerChannel(models.TextChoices):
    SLACK = "slack", "Slack"
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"
    WEB = "web", "Web / app"


class AssessmentResult(models.Model):
    """One answer to a lesson's quiz (seed 000 §2.4, plus the channel it came through).

    Every answer is recorded; only the learner's first answer to a lesson is `counted`
    for scores. A partial unique index makes "first" a database fact, so two answers
    racing in from Slack and SMS cannot both count.
    """

    learner = models.ForeignKey(
        "learners.Learner", on_delete=models.CASCADE, related_name="assessment_results"
    )
    microlesson = models.ForeignKey(
        "lessons.Microlesson", on_delete=models.CASCADE, related_name="assessment_results"
    )
    user_answer = models.PositiveSmallIntegerField(validators=[MaxValueValidator(3)])
    is_correct = models.BooleanField()
    time_taken_seconds = models.PositiveIntegerField(null=True, blank=True)
    channel = models.CharField(max_length=8, choices=AnswerChannel.choices, default="web")
    counted = models.BooleanField(
        default=True, help_text="The first answer to this lesson; repeats are kept but not scored."
    )
    is_review = models.BooleanField(default=False, help_text="Answered as a spaced review.")
    attempted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-attempted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["learner", "microlesson"],
                condition=models.Q(counted=True),
                name="assessments_one_counted_answer_per_lesson",
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=AnswerChannel.values),
                name="assessments_result_channel_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["learner", "attempted_at"], name="assess_learner_time_idx"),
        ]

    def __str__(self) -> str:
        verdict = "correct" if self.is_correct else "wrong"
        return f"{self.learner_id} → {self.microlesson_id}: {verdict}"


class ReviewItem(models.Model):
    """A missed question scheduled to come back (Leitner boxes 1, 2, 3 → 1, 3, 7 days).

    A miss puts the lesson in box 1; each correct review moves it up a box; a correct
    answer in the last box retires it; any miss sends it back to box 1.
    """

    learner = models.ForeignKey(
        "learners.Learner", on_delete=models.CASCADE, related_name="review_items"
    )
    microlesson = models.ForeignKey(
        "lessons.Microlesson", on_delete=models.CASCADE, related_name="review_items"
    )
    box = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(3)]
    )
    due_at = models.DateTimeField()
    last_answered_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["learner", "microlesson"], name="assessments_one_review_per_lesson"
            ),
            models.CheckConstraint(
                condition=models.Q(box__gte=1, box__lte=3), name="assessments_review_box_range"
            ),
        ]
        indexes = [models.Index(fields=["learner", "due_at"], name="assess_review_due_idx")]

    def __str__(self) -> str:
        return f"{self.learner_id} review {self.microlesson_id} (box {self.box})"

    @property
    def is_active(self) -> bool:
        return self.retired_at is None
