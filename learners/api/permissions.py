"""API permissions shared by the learning apps (lessons and assessments import these)."""

from rest_framework.permissions import DjangoModelPermissions, IsAuthenticated


class StaffModelPermissions(DjangoModelPermissions):
    """Staff API access by Django model permissions, reads included (view_<model>)."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class HasLearnerProfile(IsAuthenticated):
    """Self-service endpoints: an authenticated account; the view resolves its learner
    (an account without one gets a 404 from the view, like any object it cannot see)."""
