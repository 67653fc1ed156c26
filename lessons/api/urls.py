from django.urls import path
from rest_framework.routers import SimpleRouter

from lessons.api import recommendations, rewards, views

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
    path("me/rewards/", rewards.MyRewardListApi.as_view(), name="my-rewards"),
    path("me/lessons/<int:pk>/", views.MyLessonDetailApi.as_view(), name="my-lesson"),
    path(
        "me/recommendations/",
        recommendations.MyRecommendationsApi.as_view(),
        name="my-recommendations",
    ),
    path(
        "me/recommendations/<slug:slug>/open/",
        recommendations.MyRecommendationOpenApi.as_view(),
        name="my-recommendation-open",
    ),
    path(
        "me/saved-topics/",
        recommendations.MySavedTopicListApi.as_view(),
        name="my-saved-topics",
    ),
    path(
        "me/saved-topics/<slug:slug>/",
        recommendations.MySavedTopicDetailApi.as_view(),
        name="my-saved-topic",
    ),
    path(
        "learners/<str:learner_id>/recommendations/",
        recommendations.LearnerRecommendationsApi.as_view(),
        name="learner-recommendations",
    ),
    path(
        "topics/<slug:slug>/similar/",
        recommendations.TopicSimilarApi.as_view(),
        name="topic-similar",
    ),
    path(
        "topics/<slug:slug>/completed-together/",
        recommendations.TopicCompletedTogetherApi.as_view(),
        name="topic-completed-together",
    ),
    *router.urls,
]
