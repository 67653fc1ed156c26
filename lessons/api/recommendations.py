"""
Recommendations API: a learner's own next topics, opening one, saved topics (bookmarks);
for staff, any learner's recommendations and a topic's similar and completed-together
topics.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.fields import SlugRelatedField
from core.api.permissions import requires
from learners.api.permissions import HasLearnerProfile
from learners.selectors import learner_for_user
from lessons import selectors
from lessons.api.serializers import LearnerLessonSerializer
from lessons.models import SavedTopic, Topic
from lessons.recommendations import STRATEGIES, RecommendationEngine
from lessons.recommendations import services as recommendation_services
from lessons.recommendations.engine import MAX_LIMIT


class RecommendationSerializer(serializers.Serializer):
    topic = serializers.CharField(help_text="Topic slug.")
    score = serializers.FloatField(help_text="Confidence in [0, 1].")
    reason = serializers.CharField(help_text="Why, in words a person can read.")
    metadata = serializers.DictField(help_text="title, strategy, reason_code, level, …")


class RecommendationListSerializer(serializers.Serializer):
    learner_id = serializers.IntegerField()
    strategy = serializers.ChoiceField(choices=STRATEGIES)
    results = RecommendationSerializer(many=True)


class RecommendationQuerySerializer(serializers.Serializer):
    strategy = serializers.ChoiceField(choices=STRATEGIES, default="hybrid")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=10)
    exclude_completed = serializers.BooleanField(default=True)


class TopicRecommendationQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=10)


LEARNER_ID_PARAMETER = OpenApiParameter(
    "learner_id",
    {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    OpenApiParameter.PATH,
    description="The learner's id.",
)
# The query serializers document the parameters, with their ranges, in the schema.
_QUERY = [RecommendationQuerySerializer]


def _listing(request, learner_id) -> Response:
    query = RecommendationQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    engine = RecommendationEngine(learner_id=learner_id)
    results = engine.get_recommendations(**query.validated_data)
    return Response(
        {
            "learner_id": engine.learner_id,
            "strategy": query.validated_data["strategy"],
            "results": [r.to_dict() for r in results],
        }
    )


# --- learner self-service -------------------------------------------------------------------


class MyRecommendationsApi(APIView):
    """GET: the signed-in learner's next topics, best first, each with a reason."""

    permission_classes = [HasLearnerProfile]

    @extend_schema(parameters=_QUERY, responses=RecommendationListSerializer)
    def get(self, request):
        return _listing(request, learner_for_user(user=request.user))


class MyRecommendationOpenApi(APIView):
    """POST: the learner opens a recommended topic; answers their next lesson of it and
    records the click (recommendations.clicked)."""

    permission_classes = [HasLearnerProfile]

    @extend_schema(request=None, responses={200: LearnerLessonSerializer, 404: None})
    def post(self, request, slug: str):
        learner = learner_for_user(user=request.user)
        topic = get_object_or_404(Topic, slug=slug)
        lesson = recommendation_services.recommended_lesson_open(learner=learner, topic=topic)
        if lesson is None:
            return Response(
                {"code": "no_lesson_available", "message": "This topic has no lessons yet."},
                status=status.HTTP_404_NOT_FOUND,
            )
        context = {"completed_ids": selectors.completed_lesson_ids(learner=learner)}
        return Response(LearnerLessonSerializer(lesson, context=context).data)


class SavedTopicSerializer(serializers.Serializer):
    topic = SlugRelatedField(slug_field="slug", queryset=Topic.objects.all())
    title = serializers.CharField(source="topic.title", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class MySavedTopicListApi(APIView):
    """GET: the learner's saved topics. POST {"topic": slug}: save one (201; 200 if saved)."""

    permission_classes = [HasLearnerProfile]

    @extend_schema(responses=SavedTopicSerializer(many=True))
    def get(self, request):
        learner = learner_for_user(user=request.user)
        saved = SavedTopic.objects.filter(learner=learner).select_related("topic")
        return Response(SavedTopicSerializer(saved, many=True).data)

    @extend_schema(
        request=inline_serializer("SaveTopicInput", {"topic": serializers.SlugField()}),
        responses={201: SavedTopicSerializer, 200: SavedTopicSerializer},
    )
    def post(self, request):
        learner = learner_for_user(user=request.user)
        data = SavedTopicSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        saved, created = recommendation_services.saved_topic_add(
            learner=learner, topic=data.validated_data["topic"]
        )
        return Response(
            SavedTopicSerializer(saved).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class MySavedTopicDetailApi(APIView):
    """DELETE: un-save a topic (204; 404 if it was not saved)."""

    permission_classes = [HasLearnerProfile]

    @extend_schema(request=None, responses={204: None, 404: None})
    def delete(self, request, slug: str):
        learner = learner_for_user(user=request.user)
        topic = get_object_or_404(Topic, slug=slug)
        if not recommendation_services.saved_topic_remove(learner=learner, topic=topic):
            return Response(
                {"code": "not_saved", "message": "This topic is not saved."},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- staff ----------------------------------------------------------------------------------


class LearnerRecommendationsApi(APIView):
    """GET (staff with learners.view_learner): a learner's recommendations."""

    permission_classes = [requires("learners.view_learner")]

    @extend_schema(
        # The path takes any text so that a malformed id gets a clear 400 (invalid_learner)
        # rather than a bare 404; what it means is an integer id.
        parameters=[*_QUERY, LEARNER_ID_PARAMETER],
        responses=RecommendationListSerializer,
    )
    def get(self, request, learner_id: str):
        return _listing(request, learner_id)


class _TopicListApi(APIView):
    permission_classes = [requires("lessons.view_topic")]
    method = ""

    @extend_schema(
        parameters=[TopicRecommendationQuerySerializer],
        responses=RecommendationSerializer(many=True),
    )
    def get(self, request, slug: str):
        query = TopicRecommendationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        topic = get_object_or_404(Topic, slug=slug)
        # The topic lists are the same for every learner: no learner is looked up.
        engine = RecommendationEngine(learner_id=request.user.pk or 1)
        results = getattr(engine, self.method)(topic=topic, limit=query.validated_data["limit"])
        return Response([r.to_dict() for r in results])


class TopicSimilarApi(_TopicListApi):
    """GET (staff with lessons.view_topic): topics most like this one in content."""

    method = "similar_topics"


class TopicCompletedTogetherApi(_TopicListApi):
    """GET (staff with lessons.view_topic): topics learners who completed this one also
    completed (co-occurrence, normalised for popularity)."""

    method = "frequently_completed_together"
