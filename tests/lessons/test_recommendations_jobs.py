"""Recommendation jobs (queue, beat, Job runs) and the admin pages that show the results."""

import pytest
from django.conf import settings

from config.celery_app import app as celery_app
from core.models import JobRun
from lessons.models import SimilarityType, TopicSimilarity
from lessons.recommendations.tasks import cooccurrence_update_task, similarity_calculate_task
from tests.learners.factories import LearnerFactory
from tests.lessons.recommendations_support import (
    catalogue_create,
    history_create,
    rebuild,
    record,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(db):
    topics, lessons = catalogue_create()
    history_create()
    return {"topics": topics, "lessons": lessons}


def test_similarity_calculation_for_all_topics_is_a_job_run(catalogue):
    similarity_calculate_task.delay()
    run = JobRun.objects.get(name="recommendations.calculate_similarity")
    assert run.status == JobRun.Status.SUCCEEDED
    assert run.counts == {"rows": 20}
    assert TopicSimilarity.objects.filter(type=SimilarityType.CONTENT).count() == 20


def test_similarity_calculation_for_one_topic_rewrites_only_its_rows(catalogue):
    similarity_calculate_task.delay()
    TopicSimilarity.objects.filter(type=SimilarityType.CONTENT).update(score=0)
    similarity_calculate_task.delay("fire-drill")
    touched = TopicSimilarity.objects.filter(type=SimilarityType.CONTENT, score__gt=0)
    assert touched.count() == 8
    assert all("fire-drill" in (r.topic.slug, r.similar_topic.slug) for r in touched)


def test_similarity_calculation_for_an_unknown_topic_says_so(catalogue):
    assert similarity_calculate_task.delay("nope").get() == 0
    run = JobRun.objects.get(name="recommendations.calculate_similarity")
    assert run.counts == {"missing_topic": "nope"}


def test_cooccurrence_update_is_a_job_run_with_its_counts(catalogue):
    cooccurrence_update_task.delay(time_window_hours=720)
    run = JobRun.objects.get(name="recommendations.update_cooccurrence")
    assert run.status == JobRun.Status.SUCCEEDED
    assert run.counts["learners"] == 7
    assert TopicSimilarity.objects.filter(
        topic__slug="returns-basics", similar_topic__slug="returns-basics", support=4
    ).exists()


def test_the_jobs_go_to_the_recommendations_queue_and_have_beat_entries():
    for name in ("recommendations.calculate_similarity", "recommendations.update_cooccurrence"):
        route = celery_app.amqp.router.route({}, name)
        assert route["queue"].name == "recommendations"
        assert name in celery_app.tasks
        assert name in {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "recommendations" in {q.name for q in celery_app.conf.task_queues}


def test_a_learners_admin_page_shows_their_recommendations_with_reasons(catalogue, admin_client):
    rebuild()
    learner = LearnerFactory()
    record(learner, "returns-basics")
    response = admin_client.get(f"/admin/learners/learner/{learner.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Top recommendations" in html
    assert "<strong>Refund fraud</strong>" in html
    assert "completed by 75% of associates who finished Returns basics" in html


def test_a_topics_admin_page_shows_similar_and_completed_together(catalogue, admin_client):
    rebuild()
    topic = catalogue["topics"]["returns-basics"]
    response = admin_client.get(f"/admin/lessons/topic/{topic.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Similar topics (content)" in html and "Completed together" in html
    assert "completed by 75% of associates who finished Returns basics" in html
    assert "like Returns basics (both about returns)" in html


def test_the_recommendation_tables_are_in_the_admin(catalogue, admin_client):
    rebuild()
    for model in ("learnerinteraction", "topicsimilarity", "savedtopic", "recommendationcache"):
        assert admin_client.get(f"/admin/lessons/{model}/").status_code == 200, model


def test_a_similarity_run_after_cooccurrence_keeps_the_completion_figures(catalogue):
    # given: both jobs ran
    rebuild()
    # when: content similarity is recalculated again (a new snapshot generation)
    similarity_calculate_task.delay()
    # then: the new snapshot still knows who completed what
    from lessons.recommendations import RecommendationEngine

    together = RecommendationEngine(learner_id=1).frequently_completed_together(
        topic="returns-basics"
    )
    assert together[0].metadata["learners_both"] == 3
    cold = RecommendationEngine(learner_id=LearnerFactory().pk).get_recommendations()
    assert cold[0].reason == "popular: completed by 67% of sales associates"
