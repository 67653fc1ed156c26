from django.urls import path
from rest_framework.routers import SimpleRouter

from learners.api.views import (
    CohortViewSet,
    LearnerViewSet,
    MeApi,
    MeContactVerifyApi,
    MeNoSlashApi,
)

app_name = "learners"

router = SimpleRouter()
router.register("learners", LearnerViewSet, basename="learner")
router.register("cohorts", CohortViewSet, basename="cohort")

urlpatterns = [
    path("me/", MeApi.as_view(), name="me"),
    path("me", MeNoSlashApi.as_view(), name="me-no-slash"),
    path("me/contacts/verify/", MeContactVerifyApi.as_view(), name="me-contact-verify"),
    *router.urls,
]
