from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.throttling import ScopedRateThrottle
from learners.api.permissions import HasLearnerProfile, StaffModelPermissions
from learners.api.serializers import MeSerializer
from learners.models import Learner
from learners.selectors import learner_for_user
from lessons import selectors, services
from lessons.api.serializers import (
    EnrolSerializer,
    LearnerLessonSerializer,
    LearningPathSerializer,
    MicrolessonSerializer,
    PathTemplateSerializer,
    RegistrationRequestedSerializer,
    RegistrationSerializer,
    TopicSerializer,
    TransitionSerializer,
)
from lessons.models import LearningPath, Microlesson, PathTemplate, Topic

# --- staff ------------------------------------------------------------------------------


class TopicViewSet(viewsets.ModelViewSet):
    queryset = Topic.objects.all()
    serializer_class = TopicSerializer
    permission_classes = [StaffModelPermissions]
    search_fields = ["slug", "title"]
    lookup_field = "slug"


class MicrolessonViewSet(viewsets.ModelViewSet):
    queryset = Microlesson.objects.select_related("topic")
    serializer_class = MicrolessonSerializer
    permission_classes = [StaffModelPermissions]
    filterset_fields = ["topic__slug", "difficulty", "source", "generated_for"]
    search_fields = ["key", "title", "content"]


class PathTemplateViewSet(viewsets.ModelViewSet):
    queryset = PathTemplate.objects.all()
    serializer_class = PathTemplateSerializer
    permission_classes = [StaffModelPermissions]
    lookup_field = "slug"


class LearningPathViewSet(
    viewsets.mixins.CreateModelMixin,
    viewsets.mixins.DestroyModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    """Staff: list/inspect every path, enrol a learner (POST), transition, delete."""

    queryset = LearningPath.objects.select_related("template", "learner")
    serializer_class = LearningPathSerializer
    permission_classes = [StaffModelPermissions]
    filterset_fields = ["learner", "status", "template__slug"]

    @extend_schema(request=EnrolSerializer, responses={201: LearningPathSerializer})
    def create(self, request, *args, **kwargs):
        data = EnrolSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        learner = get_object_or_404(Learner, pk=data.validated_data["learner"])
        template = services.path_template_get(slug=data.validated_data["template"])
        path = services.learning_path_enrol(
            learner=learner, template=template, acting_user=request.user
        )
        return Response(LearningPathSerializer(path).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TransitionSerializer, responses=LearningPathSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        if not request.user.has_perm("lessons.change_learningpath"):
            raise PermissionDenied()
        data = TransitionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        path = services.learning_path_transition(
            path=self.get_object(),
            transition=data.validated_data["transition"],
            acting_user=request.user,
        )
        return Response(LearningPathSerializer(path).data)


# --- registration -----------------------------------------------------------------------


class RegistrationThrottle(ScopedRateThrottle):
    """THROTTLE_REGISTRATION (5/hour) per client address (core.net.client_ip)."""


REGISTRATION_REQUESTED = {
    "detail": "If that employee is on the roster and not registered yet, a code is on its "
    "way to their work email."
}


class RegistrationApi(APIView):
    """POST: an associate on the HR roster claims their entry, proven by an emailed code.

    Step 1 (`employee_id` or `email`): 202, the same body whether or not the employee
    exists or is registered. Step 2 (+ `code`, `password`): 201 with the account's learner
    profile and onboarding path; a wrong, expired or unknown code is one 422
    (`invalid_code`), whatever the reason.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [RegistrationThrottle]
    throttle_scope = "registration"

    @extend_schema(
        request=RegistrationSerializer,
        responses={
            202: RegistrationRequestedSerializer,
            201: MeSerializer,
            400: OpenApiResponse(description="Field errors, or `invalid_code` for step 2."),
        },
    )
    def post(self, request):
        data = RegistrationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        keys = {"employee_id": fields.get("employee_id", ""), "email": fields.get("email", "")}
        if "code" not in fields:
            services.learner_registration_request(**keys)
            return Response(REGISTRATION_REQUESTED, status=status.HTTP_202_ACCEPTED)
        registration = services.learner_register(
            **keys, code=fields["code"], password=fields["password"]
        )
        body = MeSerializer(registration.learner).data
        body["learning_path"] = LearningPathSerializer(registration.learning_path).data
        return Response(body, status=status.HTTP_201_CREATED)


# --- learner self-service ---------------------------------------------------------------


class MyPathListApi(APIView):
    permission_classes = [HasLearnerProfile]

    @extend_schema(responses=LearningPathSerializer(many=True))
    def get(self, request):
        learner = learner_for_user(user=request.user)
        paths = selectors.learning_path_list(learner=learner)
        return Response(LearningPathSerializer(paths, many=True).data)


def _my_path(request, pk: int) -> LearningPath:
    """One of the caller's own paths; anyone else's is a 404, never a 403."""
    learner = learner_for_user(user=request.user)
    return get_object_or_404(selectors.learning_path_list(learner=learner), pk=pk)


class MyPathDetailApi(APIView):
    permission_classes = [HasLearnerProfile]

    @extend_schema(responses=LearningPathSerializer)
    def get(self, request, pk: int):
        return Response(LearningPathSerializer(_my_path(request, pk)).data)


class MyPathTransitionApi(APIView):
    """A learner may start, pause and resume their own path (completion comes from answers)."""

    permission_classes = [HasLearnerProfile]

    @extend_schema(request=None, responses=LearningPathSerializer)
    def post(self, request, pk: int, transition: str):
        path = _my_path(request, pk)
        if transition not in {"start", "pause", "resume"}:
            raise ValidationError({"transition": "Choose start, pause or resume."})
        path = services.learning_path_transition(
            path=path, transition=transition, acting_user=request.user
        )
        return Response(LearningPathSerializer(path).data)


class MyLessonListApi(APIView):
    permission_classes = [HasLearnerProfile]

    @extend_schema(responses=LearnerLessonSerializer(many=True))
    def get(self, request):
        learner = learner_for_user(user=request.user)
        lessons = selectors.microlesson_list_for_learner(learner=learner)
        context = {"completed_ids": selectors.completed_lesson_ids(learner=learner)}
        return Response(LearnerLessonSerializer(lessons, many=True, context=context).data)


class MyLessonDetailApi(APIView):
    permission_classes = [HasLearnerProfile]

    @extend_schema(responses=LearnerLessonSerializer)
    def get(self, request, pk: int):
        learner = learner_for_user(user=request.user)
        lesson = get_object_or_404(selectors.microlesson_list_for_learner(learner=learner), pk=pk)
        context = {"completed_ids": selectors.completed_lesson_ids(learner=learner)}
        return Response(LearnerLessonSerializer(lesson, context=context).data)
