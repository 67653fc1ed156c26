"""
The document resources of the learning record store (xAPI 1.0.3 Communication §2.2-2.7):
State, Activity Profile and Agent Profile documents, one table for the three.

A document is named by its kind, its activity (State, Activity Profile), its agent (State,
Agent Profile; the inverse functional identifier from `analytics.documents.agent_key`), its
registration (State only) and its own id. Parts a kind does not use are '' rather than
NULL, so one plain unique constraint enforces "one document per name" on every database
and also serves the lookups: a single document by its whole name, the ids of a State
context or a profile holder by its leading columns.
"""

from __future__ import annotations

from django.db import models

# Longest parts of a document's name, in UTF-8 bytes: together they stay well inside
# PostgreSQL's limit for one b-tree index entry (about 2,700 bytes).
ACTIVITY_ID_MAX_BYTES = 1000
AGENT_KEY_MAX_BYTES = 600
DOCUMENT_ID_MAX_BYTES = 600
CONTENT_TYPE_MAX_LENGTH = 255


class DocumentKind(models.TextChoices):
    STATE = "state", "State"
    ACTIVITY_PROFILE = "activity_profile", "Activity Profile"
    AGENT_PROFILE = "agent_profile", "Agent Profile"


class XapiDocument(models.Model):
    """One stored document: its bytes as sent (or as merged), their type and ETag."""

    kind = models.CharField(max_length=16, choices=DocumentKind.choices)
    activity_id = models.TextField(blank=True, help_text="Activity IRI ('' for Agent Profile).")
    agent_key = models.TextField(
        blank=True, help_text="The agent's inverse functional identifier ('' for Activity Profile)."
    )
    agent = models.JSONField(null=True, blank=True, help_text="The agent as the client sent it.")
    registration = models.CharField(max_length=36, blank=True, help_text="State only.")
    document_id = models.TextField(help_text="stateId or profileId.")
    content = models.BinaryField()
    content_type = models.CharField(max_length=CONTENT_TYPE_MAX_LENGTH)
    etag = models.CharField(max_length=40, help_text="SHA-1 of the content, hexadecimal.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "xAPI document"
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "activity_id", "agent_key", "registration", "document_id"],
                name="xapi_document_unique_name",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.document_id}"

    @property
    def is_json(self) -> bool:
        return self.content_type == "application/json"
