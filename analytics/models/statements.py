"""
The learning record store (xAPI 1.0.3 Statement Resource) and its flattened query table.

`Statement` keeps each statement exactly as the store returns it (`data`, with id, stored,
authority and version filled in) plus the columns the Statement API filters on. `refs`
holds every agent and activity a statement mentions, so the agent/activity filters
(related or not) are one GIN lookup on PostgreSQL.

`StatementFlat` is the ETL's output (seed 002 §a.05): one row per statement, its primary
key the statement id, so a statement can never be flattened twice whatever the ETL mode.
"""

from __future__ import annotations

from django.db import models


class XapiScope(models.TextChoices):
    """The OAuth scopes of xAPI 1.0.3 (Communication §4.1.6), carried by Basic credentials."""

    STATEMENTS_WRITE = "statements/write", "statements/write: store statements"
    STATEMENTS_READ = "statements/read", "statements/read: read every statement"
    STATEMENTS_READ_MINE = "statements/read/mine", "statements/read/mine: read its own"
    STATE = "state", "state: the State resource"
    DEFINE = "define", "define: activity definitions"
    PROFILE = "profile", "profile: agent and activity profiles"
    ALL_READ = "all/read", "all/read: read everything"
    ALL = "all", "all: everything, voiding any client's statements included"


def default_xapi_scopes() -> list[str]:
    """A new credential stores statements and reads back its own."""
    return [XapiScope.STATEMENTS_WRITE, XapiScope.STATEMENTS_READ_MINE]


class XapiCredential(models.Model):
    """A Basic-auth client of /xapi (username `key`, password shown once at creation)."""

    name = models.CharField(max_length=100, help_text="Who uses it, e.g. 'Moodle LMS'.")
    key = models.CharField(max_length=40, unique=True, editable=False)
    # HMAC-SHA256 of the secret under SECRET_KEY: secrets are random 32-byte tokens, so a
    # slow password hash buys nothing and would cost a PBKDF2 run per request.
    secret_hash = models.CharField(max_length=64, editable=False)
    rate_per_minute = models.PositiveIntegerField(
        default=600, help_text="Requests per minute before 429 (0: unlimited)."
    )
    burst = models.PositiveIntegerField(default=60, help_text="Requests allowed back to back.")
    scopes = models.JSONField(
        default=default_xapi_scopes,
        help_text="What the client may do (xAPI scopes). Without `all` it voids only the "
        "statements it stored itself; Frontline's own statements no client can void.",
    )
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        help_text="Browser origins whose pages may read this client's xAPI responses (CORS), "
        "e.g. https://lms.example; none by default.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "xAPI credential"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"

    def has_scope(self, *wanted: str) -> bool:
        """Whether the credential holds any of `wanted` (`all` holds every scope)."""
        held = set(self.scopes or ())
        return XapiScope.ALL in held or bool(held.intersection(wanted))

    @property
    def reads_all(self) -> bool:
        return self.has_scope(XapiScope.STATEMENTS_READ, XapiScope.ALL_READ)

    @property
    def reads_own(self) -> bool:
        return self.reads_all or self.has_scope(XapiScope.STATEMENTS_READ_MINE)

    @property
    def writes(self) -> bool:
        return self.has_scope(XapiScope.STATEMENTS_WRITE)

    @property
    def voids_any(self) -> bool:
        return XapiScope.ALL in set(self.scopes or ())


class Statement(models.Model):
    id = models.UUIDField(primary_key=True)
    data = models.JSONField(help_text="The statement as the store returns it.")
    stored = models.DateTimeField()
    timestamp = models.DateTimeField()
    actor_key = models.TextField(help_text="Inverse functional identifier of the actor.")
    verb_id = models.TextField()
    object_type = models.CharField(max_length=16)
    object_id = models.TextField(help_text="Activity id, agent key or statement id.")
    registration = models.UUIDField(null=True, blank=True)
    # {"agents": [...], "related_agents": [...], "activities": [...], "related_activities":
    # [...]}: one jsonb_path_ops GIN index on PostgreSQL (migration 0002) serves all four
    # filters with `refs @> {...}`, where four arrays would cost four indexes per insert.
    refs = models.JSONField(default=dict)
    voids_id = models.UUIDField(null=True, blank=True, help_text="Statement this one voids.")
    voided = models.BooleanField(default=False)
    # Not indexed, and no database constraint: each would cost every ingested row a
    # lookup (the FK check runs once per row at commit) for a rarely used link; credentials
    # are revoked, not deleted, and Django still applies SET_NULL if one is.
    credential = models.ForeignKey(
        XapiCredential,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        indexes = [
            models.Index(fields=["stored", "id"], name="xapi_stmt_stored_idx"),
            models.Index(fields=["verb_id", "stored"], name="xapi_stmt_verb_idx"),
            models.Index(fields=["registration"], name="xapi_stmt_registration_idx"),
            # StatementRefs are few: a partial index keeps "statements targeting X" cheap.
            models.Index(
                fields=["object_id"],
                name="xapi_stmt_statementref_idx",
                condition=models.Q(object_type="StatementRef"),
            ),
            models.Index(
                fields=["voids_id"],
                name="xapi_stmt_voids_idx",
                condition=models.Q(voids_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return str(self.id)


class StatementFlat(models.Model):
    """One flattened row per statement: the table reports and the query console read."""

    statement = models.OneToOneField(
        Statement, primary_key=True, on_delete=models.CASCADE, related_name="flat"
    )
    actor_key = models.TextField()
    actor_name = models.TextField(blank=True)
    verb_id = models.TextField()
    verb_display = models.TextField(blank=True)
    object_type = models.CharField(max_length=16)
    object_id = models.TextField()
    object_name = models.TextField(blank=True)
    activity_type = models.TextField(blank=True)
    result_success = models.BooleanField(null=True)
    result_completion = models.BooleanField(null=True)
    result_score_scaled = models.FloatField(null=True)
    result_score_raw = models.FloatField(null=True)
    result_duration = models.DurationField(null=True)
    registration = models.UUIDField(null=True)
    platform = models.TextField(blank=True)
    timestamp = models.DateTimeField()
    stored = models.DateTimeField()
    voided = models.BooleanField(default=False)
    flattened_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "flattened statement"
        indexes = [
            models.Index(fields=["actor_key", "verb_id"], name="xapi_flat_actor_verb_idx"),
            models.Index(fields=["verb_id", "object_id"], name="xapi_flat_verb_object_idx"),
            models.Index(fields=["object_id", "timestamp"], name="xapi_flat_object_time_idx"),
            models.Index(fields=["registration"], name="xapi_flat_registration_idx"),
            models.Index(fields=["timestamp"], name="xapi_flat_timestamp_idx"),
            models.Index(fields=["stored"], name="xapi_flat_stored_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_key} {self.verb_id} {self.object_id}"


class EtlCheckpoint(models.Model):
    """Where a resumable ETL job got to: the sweep's watermark, a backfill's position."""

    name = models.CharField(max_length=100, unique=True)
    position_stored = models.DateTimeField(null=True, blank=True)
    position_id = models.UUIDField(null=True, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name
