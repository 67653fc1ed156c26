import factory
from django.utils import timezone

from delivery.models import DeliveryTask, TaskKind
from tests.learners.factories import LearnerFactory


class DeliveryTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeliveryTask

    learner = factory.SubFactory(LearnerFactory)
    kind = TaskKind.LESSON
    local_date = factory.LazyFunction(lambda: timezone.now().date())
    next_attempt_at = factory.LazyFunction(timezone.now)
