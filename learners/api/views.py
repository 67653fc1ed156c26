from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.filters import FilterSet
from learners import selectors, services
from learners.api.permissions import HasLearnerProfile, StaffModelPermissions
from learners.api.serializers import (
    CohortSerializer,
    ContactVerifySerializer,
    LearnerSerializer,
    MeSerializer,
)
from learners.models import Cohort, Learner


class LearnerFilter(FilterSet):
    class Meta:
        model = Learner
        fields = [
            "role",
            "preferred_channel",
            "knowledge_level",
            "onboarding_completed",
            "store",
            "region",
            "team",
            "manager",
            "sms_opted_out",
        ]


class LearnerViewSet(viewsets.ModelViewSet):
    """Staff CRUD on learners; writes go through learners.services."""

    serializer_class = LearnerSerializer
    permission_classes = [StaffModelPermissions]
    filterset_class = LearnerFilter
    search_fields = ["employee_id", "email", "first_name", "last_name", "slack_user_id"]
    ordering_fields = ["employee_id", "last_name", "created_at"]
    lookup_value_regex = r"\d+"  # keeps learners/register/ free for registration

    def get_queryset(self):
        return selectors.learner_list()

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.learner_create(**data)

    def perform_update(self, serializer):
        serializer.instance = services.learner_update(
            learner=serializer.instance,
            data=dict(serializer.validated_data),
            acting_user=self.request.user,
        )


class CohortViewSet(viewsets.ModelViewSet):
    queryset = Cohort.objects.all()
    serializer_class = CohortSerializer
    permission_classes = [StaffModelPermissions]
    filterset_fields = ["kind"]
    search_fields = ["name"]


class MeApi(APIView):
    """The caller's own learner profile (seed 000 §7.2 show); PATCH the self-service fields.

    A new phone or Slack id waits as pending until proven (a code goes there); messages keep
    going to the proven address meanwhile. Staff edits and the HR import set them directly.
    """

    permission_classes = [HasLearnerProfile]

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        learner = selectors.learner_for_user(user=request.user)
        return Response(MeSerializer(learner).data)

    @extend_schema(request=MeSerializer, responses=MeSerializer)
    def patch(self, request):
        learner = selectors.learner_for_user(user=request.user)
        serializer = MeSerializer(learner, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        learner = services.learner_self_update(
            learner=learner, data=dict(serializer.validated_data), acting_user=request.user
        )
        return Response(MeSerializer(learner).data)


class MeContactVerifyApi(APIView):
    """POST the code sent to a pending phone (SMS) or Slack id (DM): it becomes the address."""

    permission_classes = [HasLearnerProfile]

    @extend_schema(
        request=ContactVerifySerializer,
        responses={
            200: MeSerializer,
            400: OpenApiResponse(description="Field errors, or `invalid_code`."),
        },
    )
    def post(self, request):
        learner = selectors.learner_for_user(user=request.user)
        serializer = ContactVerifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        learner = services.learner_contact_confirm(learner=learner, **serializer.validated_data)
        return Response(MeSerializer(learner).data)


@extend_schema(exclude=True)
class MeNoSlashApi(MeApi):
    """`/api/v1/me` as seed 000 §7.2 writes it; the documented path is `/api/v1/me/`."""
