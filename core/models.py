"""Plumbing tables shared by every app: the event outbox, the job-run log, heartbeats."""

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class OutboxEvent(models.Model):
    """
    A domain event written in the same transaction as the change that caused it.

    A row exists only if that transaction committed; the publisher pushes rows to the
    event stream in id order and stamps `published_at`. An event whose topic has handlers
    also gets `handlers_due_at`: from then on the outbox sweep re-dispatches every handler
    run that has no ProcessedEvent yet, until none is owed (then it is cleared).
    """

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    topic = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    handlers_due_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the sweep next checks this event's handler runs (empty: none owed).",
    )
    redispatches = models.PositiveIntegerField(
        default=0, help_text="Handler runs the sweep has re-dispatched for this event."
    )

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"],
                name="outbox_pending_idx",
                condition=models.Q(published_at__isnull=True),
            ),
            models.Index(
                fields=["handlers_due_at"],
                name="outbox_handlers_due_idx",
                condition=models.Q(handlers_due_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class ProcessedEvent(models.Model):
    """Which handler has already acted on which event: makes consumers idempotent."""

    handler = models.CharField(max_length=200)
    event_id = models.UUIDField()
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["handler", "event_id"], name="processed_event_once")
        ]

    def __str__(self) -> str:
        return f"{self.handler} ← {self.event_id}"


class JobRun(models.Model):
    """One run of a scheduled or operator job: what it did, how long, how it ended."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=150, db_index=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=255, blank=True)
    request_id = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["status", "started_at"], name="jobrun_status_started_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.status}) at {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class Heartbeat(models.Model):
    """Last time a long-running process (beat, a worker) said it was alive."""

    name = models.CharField(max_length=100, primary_key=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
