import factory

from learners.models import Cohort, Learner


class CohortFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cohort
        django_get_or_create = ("kind", "name")

    kind = Cohort.Kind.STORE
    name = factory.Sequence(lambda n: f"Store {n:03d}")


class LearnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Learner

    employee_id = factory.Sequence(lambda n: f"EMP{n:05d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"associate{n}@frontline.test")
    role = "sales_associate"
    preferred_channel = "email"
    phone = factory.Sequence(lambda n: f"+1555{n:07d}")
    slack_user_id = factory.Sequence(lambda n: f"U{n:08d}")
