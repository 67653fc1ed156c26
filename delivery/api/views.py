from dataclasses import asdict

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.fields import PrimaryKeyRelatedField
from core.api.permissions import requires
from delivery import selectors, services
from delivery.models import ConsentRecord
from learners import selectors as learner_selectors
from learners.models import Channel, Learner


class ConsentChangeApi(APIView):
    """Opt out of (or back into) a channel. Learners change their own; staff holding
    delivery.add_consentrecord anyone's."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        channel = serializers.ChoiceField(choices=Channel.choices)
        opted_out = serializers.BooleanField()
        learner = PrimaryKeyRelatedField(
            queryset=Learner.objects.all(), required=False, help_text="Staff only."
        )
        message = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    @extend_schema_serializer(component_name="ConsentChange")
    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = ConsentRecord
            fields = ["id", "learner", "channel", "action", "method", "message", "created_at"]

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request):
        # Refused before the lookup, so that nobody without the permission learns which
        # learner ids exist (404) from this door.
        if request.data.get("learner") is not None and not request.user.has_perm(
            "delivery.add_consentrecord"
        ):
            raise PermissionDenied("Changing another learner's consent needs a permission.")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        learner = data.validated_data.get("learner")
        if learner is None:
            learner = learner_selectors.learner_for_user(user=request.user)
        record = services.consent_change(
            learner=learner,
            channel=data.validated_data["channel"],
            opted_out=data.validated_data["opted_out"],
            method=ConsentRecord.Method.API,
            message=data.validated_data.get("message", ""),
            acting_user=request.user,
        )
        return Response(self.OutputSerializer(record).data, status=status.HTTP_201_CREATED)


class DeliveryHealthApi(APIView):
    """Success rate, delivery time, retry frequency and error distribution (last 24 h)."""

    permission_classes = [requires("delivery.view_delivery_health")]

    @extend_schema(responses={200: dict})
    def get(self, request):
        health = asdict(selectors.delivery_health())
        health["since"] = health["since"].isoformat()
        return Response(health)
