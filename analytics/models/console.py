"""The safe query console's audit log; its model also carries the console permission."""

from __future__ import annotations

from django.db import models


class QueryRun(models.Model):
    """One run of a named console query: who, which query, what parameters, what came back."""

    query_name = models.CharField(max_length=100)
    parameters = models.JSONField(default=dict, blank=True)
    user = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="+")
    row_count = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    refused = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "query console run"
        ordering = ["-created_at"]
        permissions = [("run_query_console", "Can run queries in the safe query console")]

    def __str__(self) -> str:
        return f"{self.query_name} by {self.user_id} at {self.created_at:%Y-%m-%d %H:%M}"
