"""
The raw attachments of xAPI statements (Data §2.4.11), sent as parts of a multipart/mixed
request and returned with `attachments=true`.

Statements name their attachments by SHA-2 (`attachments[].sha2`); the bytes are stored
once per hash however many statements carry them, in PostgreSQL (bytea), no larger than
XAPI_ATTACHMENT_MAX_BYTES each. A row is written only after its content was hashed and
found to match, so a hash always names the bytes it says.
"""

from __future__ import annotations

from django.db import models


class StatementAttachment(models.Model):
    sha2 = models.CharField(
        max_length=128, primary_key=True, help_text="Lowercase hex SHA-2 of the content."
    )
    content_type = models.CharField(max_length=255)
    length = models.PositiveBigIntegerField(help_text="Bytes.")
    content = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "xAPI statement attachment"

    def __str__(self) -> str:
        return f"{self.sha2[:12]}… ({self.content_type}, {self.length} bytes)"
