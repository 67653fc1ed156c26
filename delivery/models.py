from django.db import models


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
