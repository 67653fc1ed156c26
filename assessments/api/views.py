from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from assessments import selectors, services
from assessments.api.serializers import (
    AnswerOutcomeSerializer,
    AssessmentResultSerializer,
    NextLessonSerializer,
    SubmitAnswerSerializer,
)
from learners.api.permissions import HasLearnerProfile, StaffModelPermissions
from learners.selectors import learner_for_user
from lessons.selectors import completed_lesson_ids, microlesson_list_for_learner


class AssessmentResultViewSet(viewsets.ReadOnlyModelViewSet):
    """Staff: every recorded answer, filterable by learner, lesson, correctness, channel."""

    serializer_class = AssessmentResultSerializer
    permission_classes = [StaffModelPermissions]
    filterset_fields = ["learner", "microlesson", "is_correct", "counted", "channel", "is_review"]
    ordering_fields = ["attempted_at"]

    def get_queryset(self):
        return selectors.assessment_result_list()


class MyAnswersApi(APIView):
    """GET: the caller's answers. POST: answer a lesson's quiz (seed 000 §7.4)."""

    permission_classes = [HasLearnerProfile]

    @extend_schema(responses=AssessmentResultSerializer(many=True))
    def get(self, request):
        learner = learner_for_user(user=request.user)
        results = selectors.assessment_result_list(learner=learner)
        return Response(AssessmentResultSerializer(results, many=True).data)

    @extend_schema(request=SubmitAnswerSerializer, responses={201: AnswerOutcomeSerializer})
    def post(self, request):
        learner = learner_for_user(user=request.user)
        data = SubmitAnswerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lesson = get_object_or_404(
            microlesson_list_for_learner(learner=learner), pk=data.validated_data["microlesson_id"]
        )
        outcome = services.submit_answer(
            learner=learner,
            microlesson=lesson,
            answer=data.validated_data["answer"],
            time_taken=data.validated_data.get("time_taken"),
            channel=data.validated_data["channel"],
        )
        return Response(AnswerOutcomeSerializer(outcome).data, status=status.HTTP_201_CREATED)


class MyNextLessonApi(APIView):
    """The lesson the caller should do now: a due review, else their path's next topic."""

    permission_classes = [HasLearnerProfile]

    @extend_schema(responses=NextLessonSerializer)
    def get(self, request):
        learner = learner_for_user(user=request.user)
        nxt = selectors.next_lesson_for(learner)
        context = {"completed_ids": completed_lesson_ids(learner=learner)}
        return Response(NextLessonSerializer(nxt, context=context).data)


class ScoreSerializer(serializers.Serializer):
    answered = serializers.IntegerField()
    correct = serializers.IntegerField()
    score_percentage = serializers.FloatField()


class MyScoreApi(APIView):
    """The caller's score over first answers only (repeats never count twice)."""

    permission_classes = [HasLearnerProfile]

    @extend_schema(responses=ScoreSerializer)
    def get(self, request):
        score = selectors.learner_score(learner=learner_for_user(user=request.user))
        return Response(ScoreSerializer(score).data)
