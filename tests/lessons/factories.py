import factory

from lessons.models import LearningPath, Microlesson, PathTemplate, Topic
from tests.learners.factories import LearnerFactory


class TopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Topic
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"topic-{n}")
    title = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    tags = factory.LazyFunction(lambda: ["retail"])


class MicrolessonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Microlesson

    key = factory.Sequence(lambda n: f"lesson-{n}")
    topic = factory.SubFactory(TopicFactory)
    title = factory.Sequence(lambda n: f"Lesson {n}")
    difficulty = "beginner"
    content = "Check the receipt before refunding."
    key_points = factory.LazyFunction(lambda: ["Ask for the receipt"])
    scenario = "A customer returns a kettle."
    quiz_question = "What do you check first?"
    quiz_options = factory.LazyFunction(lambda: ["The receipt", "The weather", "The clock"])
    correct_answer = 0
    explanation = "The receipt proves the purchase."


class PathTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PathTemplate
        django_get_or_create = ("slug",)

    slug = "onboarding"
    title = "New associate onboarding"
    topics = factory.LazyFunction(lambda: ["returns-policy", "customer-service"])


class LearningPathFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LearningPath

    learner = factory.SubFactory(LearnerFactory)
    name = "Onboarding"
    topics = factory.LazyFunction(lambda: ["returns-policy", "customer-service"])
