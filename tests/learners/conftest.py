import pytest
from django.contrib.auth.models import Permission


@pytest.fixture
def grant():
    """grant(user, "learners.view_learner", ...) gives model permissions to a user."""

    def _grant(user, *perms):
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        # Permission caches live on the instance; a fresh fetch sees the new ones.
        return type(user).objects.get(pk=user.pk)

    return _grant


@pytest.fixture
def learner_client(api_client, django_user_model):
    """An API client signed in as a learner with a self-service account."""
    from tests.learners.factories import LearnerFactory

    user = django_user_model.objects.create_user(username="EMP-ME")  # no hashing: fast
    learner = LearnerFactory(employee_id="EMP-ME", user=user)
    api_client.force_authenticate(user)
    api_client.learner = learner
    return api_client
