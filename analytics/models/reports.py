"""
Scheduled reports (seed 004): a schedule names a report of the reporting API, its
parameters, a cron expression and its targets (email, Slack channel, webhook). Each run is a
ReportExecution holding a CSV and a PDF file; each target of a run is a ReportDelivery with
its attempts, retried at the delivery app's backoff (5 min, 15 min, 1 h) and dead-lettered
after the last.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition


class TargetKind(models.TextChoices):
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack channel"
    WEBHOOK = "webhook", "Webhook"


class ReportSchedule(models.Model):
    name = models.CharField(max_length=120)
    report = models.CharField(max_length=64, help_text="A report of the reporting API.")
    parameters = models.JSONField(default=dict, blank=True)
    cron = models.CharField(
        max_length=100, help_text="Five-field cron expression, e.g. '0 7 * * 1' (Mondays 07:00)."
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    is_active = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        # The reporting API's permissions (reports hold learner data).
        permissions = [
            ("view_reports", "Can read reports through the reporting API"),
            ("export_reports", "Can download reports as CSV"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from analytics.schedules.cron import validate_cron, validate_time_zone

        errors = {}
        for field, check in (("cron", validate_cron), ("time_zone", validate_time_zone)):
            try:
                check(getattr(self, field))
            except ValidationError as exc:
                errors[field] = exc.error_list
        if errors:
            raise ValidationError(errors)


class ReportTarget(models.Model):
    schedule = models.ForeignKey(ReportSchedule, on_delete=models.CASCADE, related_name="targets")
    kind = models.CharField(max_length=16, choices=TargetKind.choices)
    address = models.CharField(
        max_length=500, help_text="E-mail address, Slack channel id or webhook URL."
    )
    config = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["schedule", "kind"], name="report_target_kind_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.address}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError
        from django.core.validators import EmailValidator, RegexValidator, URLValidator

        validators = {
            TargetKind.EMAIL: EmailValidator(message="Enter an e-mail address."),
            TargetKind.WEBHOOK: URLValidator(
                schemes=["https", "http"], message="Enter the webhook's http(s) URL."
            ),
            TargetKind.SLACK: RegexValidator(
                r"^([CGDU][A-Z0-9]{6,}|#[a-z0-9][a-z0-9._-]{0,79})$",
                message="Enter a Slack channel id (C0123ABCD) or #channel-name.",
            ),
        }
        validator = validators.get(self.kind)
        if validator is not None:
            try:
                validator(self.address.strip())
            except ValidationError as exc:
                raise ValidationError({"address": exc.error_list}) from exc
        if not isinstance(self.config, dict):
            raise ValidationError({"config": "Give the options as a JSON object."})


class ExecutionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


def _report_path(execution: ReportExecution, filename: str) -> str:
    return f"reports/{timezone.now():%Y/%m}/{execution.pk or 'new'}/{filename}"


class ReportExecution(models.Model):
    schedule = models.ForeignKey(
        ReportSchedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="executions"
    )
    report = models.CharField(max_length=64)
    parameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=ExecutionStatus.choices, default=ExecutionStatus.PENDING
    )
    scheduled_for = models.DateTimeField(
        null=True, blank=True, help_text="The cron slot this run is for (one run per slot)."
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    row_count = models.PositiveIntegerField(null=True, blank=True)
    title = models.CharField(max_length=200, blank=True, help_text="The report's title.")
    summary = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    csv_file = models.FileField(upload_to=_report_path, blank=True)
    pdf_file = models.FileField(upload_to=_report_path, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "scheduled_for"],
                name="report_execution_once_per_slot",
                condition=models.Q(schedule__isnull=False, scheduled_for__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.report} #{self.pk} ({self.status})"


class ReportDeliveryState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    RETRYING = "retrying", "Waiting to retry"
    DEAD = "dead", "Dead letter"


class ReportDelivery(models.Model):
    """One execution to one target; its state machine mirrors the delivery app's tasks."""

    execution = models.ForeignKey(
        ReportExecution, on_delete=models.CASCADE, related_name="deliveries"
    )
    target = models.ForeignKey(ReportTarget, on_delete=models.CASCADE, related_name="deliveries")
    state = FSMField(default=ReportDeliveryState.QUEUED, choices=ReportDeliveryState.choices)
    retry_count = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    error_category = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "report deliveries"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["execution", "target"], name="report_delivery_once_per_target"
            )
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="report_delivery_due_idx")
        ]

    def __str__(self) -> str:
        return f"{self.execution_id} → {self.target} ({self.state})"

    # --- transitions (state only; analytics.schedules.services does the rest) -----------

    @transition(
        field=state,
        source=[ReportDeliveryState.QUEUED, ReportDeliveryState.RETRYING],
        target=ReportDeliveryState.SENDING,
    )
    def start_sending(self) -> None:
        pass

    @transition(
        field=state, source=ReportDeliveryState.SENDING, target=ReportDeliveryState.DELIVERED
    )
    def mark_delivered(self) -> None:
        pass

    @transition(
        field=state, source=ReportDeliveryState.SENDING, target=ReportDeliveryState.RETRYING
    )
    def schedule_retry(self) -> None:
        pass

    @transition(field=state, source=ReportDeliveryState.SENDING, target=ReportDeliveryState.DEAD)
    def dead_letter(self) -> None:
        pass

    @transition(field=state, source=ReportDeliveryState.DEAD, target=ReportDeliveryState.QUEUED)
    def requeue(self) -> None:
        pass


class ReportDeliveryAttempt(models.Model):
    delivery = models.ForeignKey(ReportDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16)  # delivered, failed
    error_category = models.CharField(max_length=16, blank=True)  # temporary, permanent
    error_message = models.TextField(blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "number"], name="report_delivery_attempt_number_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number} {self.status}"
