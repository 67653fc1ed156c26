"""Recommendations end to end: outbox events → interactions → Redis/table cache → API."""

import datetime
import json

import pytest
from django.db import connection
from django.utils import timezone

from assessments.services import submit_answer
from core.models import OutboxEvent
from core.outbox import dispatch_event, handlers_for, publish_pending
from delivery.services import task_send
from lessons.models import (
    LearnerInteraction,
    LearningPath,
    RecommendationCache,
    SavedTopic,
)
from lessons.recommendations import BehaviorProcessor
from tests.delivery.factories import DeliveryTaskFactory
from tests.learners.factories import LearnerFactory
from tests.lessons.factories import LearningPathFactory
from tests.lessons.recommendations_support import catalogue_create, history_create, rebuild

pytestmark = pytest.mark.django_db

HANDLERS = {
    "lesson.delivered": "lessons.recommendations.handlers.on_lesson_delivered",
    "assessment.answered": "lessons.recommendations.handlers.on_assessment_answered",
    "lesson.completed": "lessons.recommendations.handlers.on_lesson_completed",
    "path.completed": "lessons.recommendations.handlers.on_path_completed",
}


@pytest.fixture
def catalogue(db):
    topics, lessons = catalogue_create()
    history_create()
    rebuild()
    return {"topics": topics, "lessons": lessons}


def through_outbox(capture, action):
    """Run `action`, publish what it emitted and run the handlers (as after a commit)."""
    with capture(execute=True):
        result = action()
        publish_pending()
    return result


def interactions(learner):
    return sorted(
        LearnerInteraction.objects.filter(learner=learner).values_list("topic__slug", "type")
    )


def recommended(client):
    response = client.get("/api/v1/me/recommendations/")
    assert response.status_code == 200, response.content
    return [r["topic"] for r in response.json()["results"]]


# --- events in --------------------------------------------------------------------------------


@pytest.mark.parametrize("topic", sorted(HANDLERS))
def test_each_event_has_its_recommendation_handler(topic):
    assert HANDLERS[topic] in handlers_for(topic)


def test_a_correct_answer_records_started_and_completed_once(
    catalogue, django_capture_on_commit_callbacks
):
    learner = LearnerFactory()
    lesson = catalogue["lessons"]["store-safety"]
    through_outbox(
        django_capture_on_commit_callbacks,
        lambda: submit_answer(learner=learner, microlesson=lesson, answer=0, channel="web"),
    )
    assert interactions(learner) == [("store-safety", "completed"), ("store-safety", "started")]
    completed = LearnerInteraction.objects.get(learner=learner, type="completed")
    assert completed.lesson_id == lesson.pk
    assert completed.metadata["event_id"]


def test_a_repeated_answer_starts_the_topic_only_once(
    catalogue, django_capture_on_commit_callbacks
):
    learner = LearnerFactory()
    lesson = catalogue["lessons"]["store-safety"]
    for answer in (1, 2):
        through_outbox(
            django_capture_on_commit_callbacks,
            lambda answer=answer: submit_answer(learner=learner, microlesson=lesson, answer=answer),
        )
    assert interactions(learner) == [("store-safety", "started")]


def test_a_redelivered_event_records_nothing_more(catalogue, django_capture_on_commit_callbacks):
    learner = LearnerFactory()
    lesson = catalogue["lessons"]["fire-drill"]
    through_outbox(
        django_capture_on_commit_callbacks,
        lambda: submit_answer(learner=learner, microlesson=lesson, answer=0),
    )
    event = OutboxEvent.objects.get(topic="lesson.completed")
    assert dispatch_event(event_pk=event.pk, handler=HANDLERS["lesson.completed"]) is False
    assert LearnerInteraction.objects.filter(learner=learner, type="completed").count() == 1


def test_a_delivered_lesson_is_recorded(catalogue, django_capture_on_commit_callbacks):
    learner = LearnerFactory(preferred_channel="email")
    lesson = catalogue["lessons"]["returns-basics"]
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)
    outcome = through_outbox(django_capture_on_commit_callbacks, lambda: task_send(task_id=task.pk))
    assert outcome.result == "accepted"
    assert interactions(learner) == [("returns-basics", "delivered")]


def test_a_completion_through_the_outbox_changes_the_api_answer(
    catalogue, learner_client, django_capture_on_commit_callbacks
):
    # given: the learner's list is cached
    before = recommended(learner_client)
    top = before[0]
    lesson = catalogue["lessons"][top]
    # when: they complete the top topic (answer → outbox → handler)
    through_outbox(
        django_capture_on_commit_callbacks,
        lambda: submit_answer(learner=learner_client.learner, microlesson=lesson, answer=0),
    )
    # then: the cached list was invalidated
    after = recommended(learner_client)
    assert top not in after
    assert len(after) == len(before) - 1


def test_finishing_a_path_enrols_a_recommended_one(catalogue, django_capture_on_commit_callbacks):
    # given: a learner on their last topic
    learner = LearnerFactory(knowledge_level="beginner")
    LearningPathFactory(learner=learner, topics=["store-safety"])
    lesson = catalogue["lessons"]["store-safety"]
    # when
    through_outbox(
        django_capture_on_commit_callbacks,
        lambda: submit_answer(learner=learner, microlesson=lesson, answer=0),
    )
    # then: a new path from the recommendations, without the topic just completed
    new = LearningPath.objects.get(learner=learner, name="Recommended for you")
    assert new.status == LearningPath.Status.NOT_STARTED
    assert "store-safety" not in new.topics
    assert new.topics[0] == "fire-drill"
    assert new.topics[-1] == "advanced-audits"  # a beginner: advanced comes last
    assert OutboxEvent.objects.filter(topic="path.enrolled").count() == 1


def test_path_completed_again_does_not_enrol_twice(catalogue, django_capture_on_commit_callbacks):
    learner = LearnerFactory()
    LearningPathFactory(learner=learner, topics=["store-safety"])
    through_outbox(
        django_capture_on_commit_callbacks,
        lambda: submit_answer(
            learner=learner, microlesson=catalogue["lessons"]["store-safety"], answer=0
        ),
    )
    from lessons.recommendations.handlers import on_path_completed

    on_path_completed(OutboxEvent.objects.get(topic="path.completed"))  # an open path exists
    assert LearningPath.objects.filter(learner=learner).count() == 2


# --- events out -------------------------------------------------------------------------------


def test_generated_is_published_to_the_stream(catalogue, learner_client, redis_client, settings):
    recommended(learner_client)
    publish_pending()
    entries = redis_client.xrange(settings.OUTBOX_STREAM)
    topics = [fields["topic"] for _id, fields in entries]
    assert "recommendations.generated" in topics
    payload = json.loads(
        next(f["payload"] for _i, f in entries if f["topic"] == "recommendations.generated")
    )
    assert payload["learner_id"] == learner_client.learner.pk


def test_opening_a_recommended_topic_returns_its_lesson_and_publishes_clicked(
    catalogue, learner_client
):
    response = learner_client.post("/api/v1/me/recommendations/fire-drill/open/")
    assert response.status_code == 200, response.content
    assert response.json()["id"] == catalogue["lessons"]["fire-drill"].pk
    assert "correct_answer" not in response.json()
    clicked = OutboxEvent.objects.get(topic="recommendations.clicked")
    assert clicked.payload["topic"] == "fire-drill"
    row = LearnerInteraction.objects.get(learner=learner_client.learner)
    assert (row.type, row.metadata) == ("delivered", {"via": "recommendation"})


def test_opening_an_unknown_topic_is_404(catalogue, learner_client):
    assert learner_client.post("/api/v1/me/recommendations/nope/open/").status_code == 404


# --- the API ----------------------------------------------------------------------------------


def test_my_recommendations_answer_with_reasons(catalogue, learner_client):
    response = learner_client.get("/api/v1/me/recommendations/?strategy=content_based&limit=2")
    assert response.status_code == 200
    body = response.json()
    assert body["strategy"] == "content_based"
    assert body["learner_id"] == learner_client.learner.pk
    assert len(body["results"]) == 2
    assert {"topic", "score", "reason", "metadata"} == set(body["results"][0])


@pytest.mark.parametrize(
    "query, field",
    [("strategy=magic", "strategy"), ("limit=0", "limit"), ("limit=abc", "limit")],
)
def test_bad_query_parameters_are_field_errors(catalogue, learner_client, query, field):
    response = learner_client.get(f"/api/v1/me/recommendations/?{query}")
    assert response.status_code == 400
    assert field in json.dumps(response.json())


def test_an_account_without_a_learner_gets_404_and_anonymous_401(
    catalogue, authed_client, api_client
):
    assert authed_client.get("/api/v1/me/recommendations/").status_code == 404
    authed_client.force_authenticate(None)
    assert api_client.get("/api/v1/me/recommendations/").status_code in (401, 403)


def test_staff_read_a_learners_recommendations_with_permission(
    catalogue, api_client, staff_user, grant
):
    learner = LearnerFactory()
    url = f"/api/v1/learners/{learner.pk}/recommendations/"
    api_client.force_authenticate(staff_user)
    assert api_client.get(url).status_code == 403
    api_client.force_authenticate(grant(staff_user, "learners.view_learner"))
    response = api_client.get(url)
    assert response.status_code == 200
    assert response.json()["results"][0]["reason"].startswith("popular:")


@pytest.mark.parametrize(
    "learner_id, status, code",
    [("987654321", 404, "learner_not_found"), ("abc", 400, "invalid_learner")],
)
def test_an_unknown_or_malformed_learner_id_is_a_clear_error(
    catalogue, api_client, staff_user, grant, learner_id, status, code
):
    api_client.force_authenticate(grant(staff_user, "learners.view_learner"))
    response = api_client.get(f"/api/v1/learners/{learner_id}/recommendations/")
    assert response.status_code == status
    assert code in json.dumps(response.json())


def test_staff_read_similar_and_completed_together_topics(catalogue, api_client, staff_user, grant):
    api_client.force_authenticate(staff_user)
    assert api_client.get("/api/v1/topics/returns-basics/similar/").status_code == 403
    api_client.force_authenticate(grant(staff_user, "lessons.view_topic"))
    similar = api_client.get("/api/v1/topics/returns-basics/similar/?limit=2")
    together = api_client.get("/api/v1/topics/returns-basics/completed-together/")
    assert similar.status_code == together.status_code == 200
    assert len(similar.json()) == 2
    assert together.json()[0]["topic"] == "refund-fraud"
    assert together.json()[0]["reason"].startswith("completed by 75% of associates")
    assert api_client.get("/api/v1/topics/nope/similar/").status_code == 404
    assert api_client.get("/api/v1/topics/returns-basics/similar/?limit=99").status_code == 400


def test_saving_and_unsaving_a_topic(catalogue, learner_client):
    learner = learner_client.learner
    first = learner_client.post("/api/v1/me/saved-topics/", {"topic": "fire-drill"}, format="json")
    again = learner_client.post("/api/v1/me/saved-topics/", {"topic": "fire-drill"}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    listing = learner_client.get("/api/v1/me/saved-topics/").json()
    assert [s["topic"] for s in listing] == ["fire-drill"]
    assert interactions(learner) == [("fire-drill", "saved")]
    reasons = {
        r["topic"]: r["reason"]
        for r in learner_client.get("/api/v1/me/recommendations/").json()["results"]
    }
    assert reasons["fire-drill"] == "you saved this for later"
    assert learner_client.delete("/api/v1/me/saved-topics/fire-drill/").status_code == 204
    assert learner_client.delete("/api/v1/me/saved-topics/fire-drill/").status_code == 404
    assert not SavedTopic.objects.filter(learner=learner).exists()
    assert interactions(learner) == []
    reasons = {
        r["topic"]: r["reason"]
        for r in learner_client.get("/api/v1/me/recommendations/").json()["results"]
    }
    assert reasons["fire-drill"] != "you saved this for later"


def test_saving_an_unknown_topic_is_a_404_naming_the_field(catalogue, learner_client):
    response = learner_client.post("/api/v1/me/saved-topics/", {"topic": "nope"}, format="json")
    assert response.status_code == 404
    assert response.json()["details"] == {"field": "topic", "value": "nope"}


@pytest.mark.parametrize("strategy", ["hybrid", "collaborative", "content_based"])
def test_completed_topics_can_be_kept_in_every_strategy(catalogue, learner_client, strategy):
    # The cache keys this variant as "<strategy>+completed", longer than a strategy name.
    response = learner_client.get(
        f"/api/v1/me/recommendations/?strategy={strategy}&exclude_completed=false"
    )
    assert response.status_code == 200
    assert response.json()["strategy"] == strategy


def test_the_schema_documents_the_recommendation_endpoints(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    for path in (
        "/api/v1/me/recommendations/",
        "/api/v1/me/saved-topics/",
        "/api/v1/me/saved-topics/{slug}/",
        "/api/v1/learners/{learner_id}/recommendations/",
        "/api/v1/topics/{slug}/similar/",
        "/api/v1/topics/{slug}/completed-together/",
    ):
        assert path in schema["paths"], path
    parameters = schema["paths"]["/api/v1/me/recommendations/"]["get"]["parameters"]
    assert {"strategy", "limit", "exclude_completed"} <= {p["name"] for p in parameters}


# --- Redis and the durable copy ---------------------------------------------------------------


def test_the_list_is_cached_in_redis_with_its_ttl_and_in_the_table(
    catalogue, learner_client, redis_client, settings
):
    recommended(learner_client)
    keys = list(redis_client.scan_iter("recs:list:*"))
    assert len(keys) == 1
    assert 0 < redis_client.ttl(keys[0]) <= settings.RECOMMENDATIONS_CACHE_SECONDS
    cached = json.loads(redis_client.get(keys[0]))
    row = RecommendationCache.objects.get(learner=learner_client.learner, strategy="hybrid")
    assert row.results == cached


# --- query plans ------------------------------------------------------------------------------


@pytest.fixture
def many_interactions(catalogue):
    learners = [LearnerFactory() for _ in range(40)]
    topics = list(catalogue["topics"])
    long_ago = timezone.now() - datetime.timedelta(days=10)
    events = [
        {
            "learner_id": learner.pk,
            "topic": topics[n % len(topics)],
            "type": kind,
            "created_at": long_ago,
        }
        for learner in learners
        for n in range(50)
        for kind in ("delivered", "started", "completed")
    ]
    BehaviorProcessor().process_events(events)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE lessons_learnerinteraction")
    return learners


def explain(sql, params):
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_profile_query_uses_the_learner_index(many_interactions):
    plan = explain(
        "SELECT topic_id, type, SUM(weight) FROM lessons_learnerinteraction "
        "WHERE learner_id = %s GROUP BY topic_id, type",
        [many_interactions[0].pk],
    )
    assert "lessons_inter_learner_idx" in plan, plan


def test_the_window_query_uses_the_type_time_index(many_interactions):
    plan = explain(
        "SELECT DISTINCT learner_id, topic_id FROM lessons_learnerinteraction "
        "WHERE type = %s AND created_at >= %s",
        ["completed", timezone.now() - datetime.timedelta(minutes=1)],
    )
    assert "lessons_inter_type_time_idx" in plan, plan


@pytest.mark.django_db(transaction=True)
def test_a_committed_batch_with_an_unknown_learner_keeps_the_good_rows(catalogue):
    learner = LearnerFactory()
    processed = BehaviorProcessor().process_events(
        [
            {"learner_id": 99999999, "topic": "fire-drill", "type": "completed"},
            {"learner_id": learner.pk, "topic": "fire-drill", "type": "completed"},
        ]
    )
    assert processed == 1
    assert interactions(learner) == [("fire-drill", "completed")]
