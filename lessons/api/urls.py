from django.urls import path
from rest_framework.routers import SimpleRouter

from lessons.api import views

app_name = "lessons"

router = SimpleRouter()
router.register("topics", views.TopicViewSet, basename="topic")
router.register("lessons", views.MicrolessonViewSet, basename="lesson")
router.register("path-templates", views.PathTemplateViewSet, basename="path-template")
router.register("learning-paths", views.LearningPathViewSet, basename="learning-path")

urlpatterns = [
    path("learners/register/", views.RegistrationApi.as_view(), name="register"),
    path("me/paths/", views.MyPathListApi.as_view(), name="my-paths"),
    path("me/paths/<int:pk>/", views.MyPathDetailApi.as_view(), name="my-path"),
    path(
        "me/paths/<int:pk>/<str:transition>/",
        views.MyPathTransitionApi.as_view(),
        name="my-path-transition",
    ),
    path("me/lessons/", views.MyLessonListApi.as_view(), name="my-lessons"),
    path("me/lessons/<int:pk>/", views.MyLessonDetailApi.as_view(), name="my-lesson"),
    *router.urls,
]
