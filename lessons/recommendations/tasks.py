"""Recommendation jobs (queue `recommendations`; beat entries in config/settings.py)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from core.jobs import tracked_job
from lessons.models import Topic
from lessons.recommendations import services


@shared_task(name="recommendations.calculate_similarity")
@tracked_job("recommendations.calculate_similarity")
def similarity_calculate_task(run, topic_slug: str | None = None) -> int:
    """Recompute content similarity of every topic, or only of `topic_slug`."""
    topic = Topic.objects.filter(slug=topic_slug).first() if topic_slug else None
    if topic_slug and topic is None:
        run.set("missing_topic", topic_slug)
        return 0
    rows = services.similarity_recalculate(topic=topic)
    run.count("rows", rows)
    return rows


@shared_task(name="recommendations.update_cooccurrence")
@tracked_job("recommendations.update_cooccurrence")
def cooccurrence_update_task(run, time_window_hours: int | None = None) -> int:
    """Rebuild the co-occurrence matrix over the window (default RECOMMENDATIONS_WINDOW_HOURS)."""
    result = services.cooccurrence_rebuild(
        time_window_hours=time_window_hours or settings.RECOMMENDATIONS_WINDOW_HOURS
    )
    run.set("learners", result["learners"])
    run.set("rows", result["rows"])
    return result["rows"]
