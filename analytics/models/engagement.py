"""
Engagement (seed 000 §2.5, with `lesson_sent` allowed): one row per learner event, recorded
from the other apps' domain events on core's outbox stream, and the 6-hourly rollups into
daily per-learner and per-cohort figures that the engagement report reads.
"""

from __future__ import annotations

from django.db import models


class EngagementEvent(models.TextChoices):
    LESSON_SENT = "lesson_sent", "Lesson sent"
    LESSON_STARTED = "lesson_started", "Lesson started"
    LESSON_COMPLETED = "lesson_completed", "Lesson completed"
    ASSESSMENT_TAKEN = "assessment_taken", "Assessment taken"
    REMINDER_SENT = "reminder_sent", "Reminder sent"
    CHANNEL_CHANGED = "channel_changed", "Channel changed"


class EngagementChannel(models.TextChoices):
    SLACK = "slack", "Slack"
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"
    WEB = "web", "Web"


class EngagementMetric(models.Model):
    learner = models.ForeignKey(
        "learners.Learner", on_delete=models.CASCADE, related_name="engagement_metrics"
    )
    event_type = models.CharField(max_length=32, choices=EngagementEvent.choices)
    event_data = models.JSONField(default=dict, blank=True)
    channel = models.CharField(max_length=16, choices=EngagementChannel.choices, blank=True)
    recorded_at = models.DateTimeField(db_index=True)
    # The outbox event it came from: a redelivered event cannot count twice (a unique
    # constraint, not a check in Python). Null for metrics recorded directly.
    source_event_id = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-recorded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_event_id", "event_type"],
                name="engagement_metric_once_per_event",
                condition=models.Q(source_event_id__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["learner", "recorded_at"], name="engagement_learner_time_idx"),
            models.Index(fields=["event_type", "recorded_at"], name="engagement_type_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.learner_id} {self.event_type} {self.recorded_at:%Y-%m-%d %H:%M}"


# Column of the daily rollups for each event type, and those columns in report order.
COUNT_COLUMNS = {
    EngagementEvent.LESSON_SENT: "lessons_sent",
    EngagementEvent.LESSON_STARTED: "lessons_started",
    EngagementEvent.LESSON_COMPLETED: "lessons_completed",
    EngagementEvent.ASSESSMENT_TAKEN: "assessments_taken",
    EngagementEvent.REMINDER_SENT: "reminders_sent",
    EngagementEvent.CHANNEL_CHANGED: "channel_changes",
}
COUNT_FIELDS = tuple(COUNT_COLUMNS.values())


class _EngagementCounts(models.Model):
    """The figures both rollups carry, one column per event type."""

    lessons_sent = models.PositiveIntegerField(default=0)
    lessons_started = models.PositiveIntegerField(default=0)
    lessons_completed = models.PositiveIntegerField(default=0)
    assessments_taken = models.PositiveIntegerField(default=0)
    reminders_sent = models.PositiveIntegerField(default=0)
    channel_changes = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class LearnerEngagementDay(_EngagementCounts):
    learner = models.ForeignKey("learners.Learner", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()

    class Meta:
        verbose_name = "learner engagement (daily)"
        verbose_name_plural = "learner engagement (daily)"
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["learner", "day"], name="learner_engagement_day_uniq")
        ]
        indexes = [models.Index(fields=["day"], name="learner_engagement_day_idx")]

    def __str__(self) -> str:
        return f"{self.learner_id} {self.day}"


class CohortEngagementDay(_EngagementCounts):
    cohort = models.ForeignKey("learners.Cohort", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    active_learners = models.PositiveIntegerField(
        default=0, help_text="Learners of the cohort with at least one event that day."
    )

    class Meta:
        verbose_name = "cohort engagement (daily)"
        verbose_name_plural = "cohort engagement (daily)"
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["cohort", "day"], name="cohort_engagement_day_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.cohort_id} {self.day}"
