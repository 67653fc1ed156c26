"""
Delivery: what was sent to whom, how each provider call went, and what came back.

DeliveryTask follows seed 001's task machine (django-fsm): pending → in_transit →
delivered; in_transit → failed; failed/in_transit → returned; failed/returned →
in_transit (retry_delivery); failed/returned → dead_lettered after the last retry. The
transitions only change state; delivery.services locks the row, calls them and saves.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition


class SinkMessage(models.Model):
    """A message a channel without credentials 'sent' locally (embedded mode, demos)."""

    channel = models.CharField(max_length=20, db_index=True)
    address = models.CharField(max_length=320)
    subject = models.CharField(max_length=300, blank=True)
    text = models.TextField()
    html = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "local sink message"

    def __str__(self) -> str:
        return f"{self.channel} → {self.address}"


class TaskState(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_TRANSIT = "in_transit", "In transit"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    RETURNED = "returned", "Returned"
    DEAD_LETTERED = "dead_lettered", "Dead-lettered"
    CANCELLED = "cancelled", "Cancelled"


class TaskKind(models.TextChoices):
    LESSON = "lesson", "Daily lesson"
    REMINDER = "reminder", "Reminder"
    MANAGER_NOTICE = "manager_notice", "Manager notice"


# States a sender may claim (when next_attempt_at has come).
CLAIMABLE_STATES = (TaskState.PENDING, TaskState.FAILED, TaskState.RETURNED)


class DeliveryTask(models.Model):
    """One message to one learner (a day's lesson, a reminder, a notice to a manager)."""

    learner = models.ForeignKey(
        "learners.Learner", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=16, choices=TaskKind.choices, default=TaskKind.LESSON)
    state = FSMField(
        default=TaskState.PENDING, choices=TaskState.choices, protected=True, db_index=True
    )
    local_date = models.DateField(help_text="The learner's local date the message is for.")
    microlesson = models.ForeignKey(
        "lessons.Microlesson",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Chosen by next_lesson_for when the task is first sent; kept for retries.",
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="follow_ups",
        help_text="For a reminder or manager notice: the lesson task it is about.",
    )
    sequence = models.PositiveSmallIntegerField(
        default=0, help_text="Reminder number (1, 2, 3) within its lesson's sequence."
    )
    channel = models.CharField(max_length=16, blank=True)
    address = models.CharField(max_length=320, blank=True)
    channels_tried = models.JSONField(default=list, blank=True)
    retry_count = models.PositiveSmallIntegerField(
        default=0, help_text="Retries spent on the current channel (temporary errors)."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    accepted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the provider accepted the message."
    )
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    error_category = models.CharField(max_length=16, blank=True)
    answer_link_used_at = models.DateTimeField(null=True, blank=True)
    possible_duplicate = models.BooleanField(
        default=False,
        db_default=False,  # rows planned by raw INSERT … SELECT (delivery.planning) too
        help_text="A send was lost mid-call (its worker died) and was sent again: the "
        "learner may have the message twice.",
    )
    reconciled_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the task, stuck in transit, was settled by the reconcile job.",
    )
    render_context = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("view_delivery_health", "Can read delivery health figures")]
        constraints = [
            # At most one lesson per learner per local day: a database fact, so two planners
            # racing (or a planner re-run) cannot both create one.
            models.UniqueConstraint(
                fields=["learner", "local_date"],
                condition=models.Q(kind="lesson"),
                name="delivery_one_lesson_per_learner_per_day",
            ),
            models.UniqueConstraint(
                fields=["parent", "kind", "sequence"],
                condition=models.Q(parent__isnull=False),
                name="delivery_one_follow_up_per_sequence",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=TaskState.values), name="delivery_task_state_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state__in=["pending", "failed", "returned"]),
                name="delivery_task_due_idx",
            ),
            models.Index(fields=["learner", "local_date"], name="delivery_task_learner_day_idx"),
            models.Index(fields=["provider_message_id"], name="delivery_task_provider_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} for learner {self.learner_id} ({self.state})"

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        # A protected FSMField refuses assignment once loaded, Django's own reload included.
        if fields is None or "state" in fields:
            self.__dict__.pop("state", None)
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)

    # --- transitions (state only; services do the rest) ---------------------------------

    @transition(field=state, source=TaskState.PENDING, target=TaskState.IN_TRANSIT)
    def ship(self) -> None:
        pass

    @transition(field=state, source=TaskState.IN_TRANSIT, target=TaskState.DELIVERED)
    def deliver(self) -> None:
        pass

    @transition(
        field=state, source=[TaskState.PENDING, TaskState.IN_TRANSIT], target=TaskState.FAILED
    )
    def mark_failed(self) -> None:
        pass

    @transition(
        field=state, source=[TaskState.FAILED, TaskState.IN_TRANSIT], target=TaskState.RETURNED
    )
    def return_to_sender(self) -> None:
        pass

    @transition(
        field=state, source=[TaskState.FAILED, TaskState.RETURNED], target=TaskState.IN_TRANSIT
    )
    def retry_delivery(self) -> None:
        pass

    @transition(
        field=state, source=[TaskState.FAILED, TaskState.RETURNED], target=TaskState.DEAD_LETTERED
    )
    def dead_letter(self) -> None:
        pass

    @transition(
        field=state,
        source=[TaskState.DEAD_LETTERED, TaskState.FAILED],
        target=TaskState.PENDING,
        custom={"admin": True, "label": "Requeue"},
    )
    def requeue(self) -> None:
        pass

    @transition(
        field=state,
        source=[TaskState.PENDING, TaskState.FAILED, TaskState.RETURNED, TaskState.DEAD_LETTERED],
        target=TaskState.CANCELLED,
        custom={"admin": True, "label": "Cancel"},
    )
    def cancel(self) -> None:
        pass


class AttemptStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "In flight"  # committed before the provider call
    PROCESSING = "processing", "Processing"  # accepted, awaiting the delivery report
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    LOST = "lost", "Lost in flight"  # its sender died mid-call; the outcome is unknown


class DeliveryAttempt(models.Model):
    """One provider call for a task (seed 004's delivery attempt, plus error category)."""

    task = models.ForeignKey(DeliveryTask, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    channel = models.CharField(max_length=16)
    address = models.CharField(max_length=320, blank=True)
    status = models.CharField(max_length=16, choices=AttemptStatus.choices)
    retry_count = models.PositiveSmallIntegerField(default=0)
    error_category = models.CharField(max_length=16, blank=True)
    error_reason = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["task", "number"]
        constraints = [
            models.UniqueConstraint(fields=["task", "number"], name="delivery_attempt_number_uniq")
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="delivery_attempt_status_idx"),
            models.Index(fields=["provider_message_id"], name="delivery_attempt_provider_idx"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of task {self.task_id}: {self.status}"


class LearnerDeliveryState(models.Model):
    """Delivery's own per-learner state: paused after unanswered reminders until RESUME."""

    learner = models.OneToOneField(
        "learners.Learner", on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=200, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "learner delivery state"

    def __str__(self) -> str:
        return f"learner {self.learner_id}: {'paused' if self.paused_at else 'active'}"

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None


class Notification(models.Model):
    """A message delivery sent besides the lesson itself (seed 002's notifications table)."""

    class Kind(models.TextChoices):
        REMINDER = "reminder", "Reminder"
        PAUSED = "paused", "Learner paused"
        MANAGER_NOTICE = "manager_notice", "Manager told"
        RESUMED = "resumed", "Learner resumed"

    learner = models.ForeignKey("learners.Learner", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    task = models.ForeignKey(
        DeliveryTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job_run = models.ForeignKey(
        "core.JobRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for learner {self.learner_id}"


class ConsentRecord(models.Model):
    """Every opt-out and opt-in, how it happened, and the message that caused it."""

    class Action(models.TextChoices):
        OPT_OUT = "opt_out", "Opted out"
        OPT_IN = "opt_in", "Opted in"

    class Method(models.TextChoices):
        KEYWORD = "keyword", "Keyword reply"
        STAFF = "staff", "Staff"
        API = "api", "API"
        PROVIDER = "provider", "Provider report"

    learner = models.ForeignKey("learners.Learner", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=16)
    action = models.CharField(max_length=8, choices=Action.choices)
    method = models.CharField(max_length=16, choices=Method.choices)
    message = models.TextField(blank=True, help_text="The message that caused it, verbatim.")
    # Consent belongs to the address: which one it is for, and who sent the instruction.
    address = models.CharField(max_length=254, blank=True, help_text="The address it covers.")
    sender = models.CharField(
        max_length=254, blank=True, help_text="The number / id the instruction came from."
    )
    acting_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} of {self.channel} by learner {self.learner_id}"


class InboundRequest(models.Model):
    """Every provider request we received, for the monitoring dashboard."""

    provider = models.CharField(max_length=16)  # twilio, slack, email
    kind = models.CharField(max_length=32)  # status_callback, sms, interactivity, answer_page
    signature_ok = models.BooleanField()
    outcome = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    provider_request_id = models.CharField(max_length=200, blank=True)
    learner = models.ForeignKey(
        "learners.Learner", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    task = models.ForeignKey(
        DeliveryTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["provider", "kind", "provider_request_id"], name="delivery_inb_req_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind}: {self.outcome}"
