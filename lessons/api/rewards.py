"""A learner's own completion rewards (never a gift card code: it went to their channel)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from learners.api.permissions import HasLearnerProfile
from learners.selectors import learner_for_user
from lessons.rewards.selectors import path_reward_list


class MyRewardListApi(APIView):
    permission_classes = [HasLearnerProfile]

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        template = serializers.CharField(source="template.slug")
        title = serializers.CharField(source="template.title")
        status = serializers.CharField()
        amount = serializers.DecimalField(max_digits=12, decimal_places=2)
        currency = serializers.CharField()
        gift_card = serializers.SerializerMethodField()
        completed_at = serializers.DateTimeField()
        issued_at = serializers.DateTimeField(allow_null=True)
        code_sent_at = serializers.DateTimeField(allow_null=True)

        def get_gift_card(self, obj) -> str | None:
            return obj.gift_card.masked_code if obj.gift_card_id else None

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        learner = learner_for_user(user=request.user)
        rewards = path_reward_list(learner=learner)
        return Response(self.OutputSerializer(rewards, many=True).data)
