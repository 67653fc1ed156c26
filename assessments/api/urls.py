from django.urls import path
from rest_framework.routers import SimpleRouter

from assessments.api import views

app_name = "assessments"

router = SimpleRouter()
router.register("assessment-results", views.AssessmentResultViewSet, basename="assessment-result")

urlpatterns = [
    path("me/answers/", views.MyAnswersApi.as_view(), name="my-answers"),
    path("me/lessons/next/", views.MyNextLessonApi.as_view(), name="my-next-lesson"),
    path("me/score/", views.MyScoreApi.as_view(), name="my-score"),
    *router.urls,
]
