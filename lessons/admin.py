"""
Lessons admin: topics, lessons, path templates and learning paths (with django-fsm
transition buttons). It also extends the learner admin with the learner's paths inline
and "enrol in <path>" actions, because learners cannot import lessons.
"""

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join
from django_fsm.admin import FSMAdminMixin

from learners.admin import LearnerAdmin
from learners.models import Learner
from lessons import services
from lessons.errors import AlreadyEnrolledError, PathTransitionError, RecommendationError
from lessons.models import (
    LearnerInteraction,
    LearningPath,
    LessonCompletion,
    Microlesson,
    PathTemplate,
    RecommendationCache,
    SavedTopic,
    Topic,
    TopicSimilarity,
)
from lessons.rewards import admin as rewards_admin  # registers the reward admins too


def _result_list(results) -> str:
    """Recommendation results as an HTML list: title, score and reason."""
    if not results:
        return "—"
    return format_html(
        "<ol>{}</ol>",
        format_html_join(
            "",
            "<li><strong>{}</strong> ({}): {}</li>",
            ((r.metadata.get("title", r.topic), f"{r.score:.2f}", r.reason) for r in results),
        ),
    )


def _recommendations(call) -> str:
    from lessons.recommendations import RecommendationEngine

    try:
        return _result_list(call(RecommendationEngine))
    except RecommendationError as exc:
        return exc.message


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "lesson_count", "updated_at"]
    search_fields = ["slug", "title", "description"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["similar_topics", "completed_together"]

    @admin.display(description="Similar topics (content)")
    def similar_topics(self, obj):
        if obj.pk is None:
            return "—"
        return _recommendations(lambda engine: engine(learner_id=1).similar_topics(topic=obj))

    @admin.display(description="Completed together")
    def completed_together(self, obj):
        if obj.pk is None:
            return "—"
        return _recommendations(
            lambda engine: engine(learner_id=1).frequently_completed_together(topic=obj, limit=10)
        )

    @admin.display(description="Lessons")
    def lesson_count(self, obj):
        return obj.lessons.count()


@admin.register(Microlesson)
class MicrolessonAdmin(admin.ModelAdmin):
    list_display = ["title", "topic", "difficulty", "source", "key", "generated_for"]
    list_filter = ["source", "difficulty", "topic"]
    search_fields = ["key", "title", "content", "quiz_question"]
    list_select_related = ["topic", "generated_for"]
    raw_id_fields = ["generated_for"]
    readonly_fields = ["created_at", "updated_at", "generator_metadata"]
    fieldsets = [
        (None, {"fields": ["key", "topic", "title", "difficulty", "source", "generated_for"]}),
        ("Lesson", {"fields": ["content", "key_points", "scenario"]}),
        ("Quiz", {"fields": ["quiz_question", "quiz_options", "correct_answer", "explanation"]}),
        ("Record", {"fields": ["generator_metadata", "created_at", "updated_at"]}),
    ]


@admin.register(PathTemplate)
class PathTemplateAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "difficulty", "topic_count", "enrolled", "reward"]
    search_fields = ["slug", "title"]
    fieldsets = [
        (None, {"fields": ["slug", "title", "description", "difficulty", "topics"]}),
        (
            "Completion reward",
            {
                "description": (
                    "A gift card for each learner who completes the path, within a monthly "
                    "budget per cohort. Leave the amount and budget empty for no reward."
                ),
                "fields": [
                    "reward_amount",
                    "reward_currency",
                    "reward_monthly_budget",
                    "reward_cohort_kind",
                ],
            },
        ),
    ]

    @admin.display(description="Reward")
    def reward(self, obj):
        if not obj.has_reward:
            return "—"
        return (
            f"{obj.reward_currency} {obj.reward_amount} (budget {obj.reward_monthly_budget}/month)"
        )

    @admin.display(description="Topics")
    def topic_count(self, obj):
        return len(obj.topics)

    @admin.display(description="Enrolled learners")
    def enrolled(self, obj):
        return obj.paths.count()


def _transition_action(name: str):
    def action(modeladmin, request, queryset):
        done, refused = 0, []
        for path in queryset:
            try:
                services.learning_path_transition(
                    path=path, transition=name, acting_user=request.user
                )
                done += 1
            except PathTransitionError as exc:
                refused.append(f"#{path.pk}: {exc.message}")
        modeladmin.message_user(request, f"{name.capitalize()}: {done} path(s).")
        if refused:
            modeladmin.message_user(request, "; ".join(refused[:20]), level=messages.WARNING)

    action.__name__ = f"{name}_paths"
    action.short_description = f"{name.capitalize()} selected paths"
    return action


@admin.register(LearningPath)
class LearningPathAdmin(FSMAdminMixin, admin.ModelAdmin):
    fsm_fields = ["status"]
    list_display = [
        "id",
        "learner",
        "name",
        "status",
        "current_position",
        "completion_percentage",
        "started_at",
        "completed_at",
    ]
    list_filter = ["status", "template", "difficulty"]
    search_fields = ["name", "learner__employee_id", "learner__email", "learner__last_name"]
    list_select_related = ["learner", "template"]
    raw_id_fields = ["learner"]
    readonly_fields = [
        "current_position",
        "completion_percentage",
        "started_at",
        "paused_at",
        "completed_at",
        "created_at",
        "updated_at",
    ]
    actions = [_transition_action(name) for name in ("start", "pause", "resume")]


class LearningPathInline(admin.TabularInline):
    model = LearningPath
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["name", "status", "current_position", "completion_percentage", "completed_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False  # enrol through the action, which copies the template's topics


class LessonCompletionInline(admin.TabularInline):
    model = LessonCompletion
    fk_name = "learner"
    extra = 0
    can_delete = False
    fields = ["microlesson", "completed_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class LearnerWithPathsAdmin(LearnerAdmin):
    inlines = [LearningPathInline, LessonCompletionInline, rewards_admin.PathRewardInline]
    readonly_fields = [*LearnerAdmin.readonly_fields, "top_recommendations"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            fieldsets.append(("Recommendations", {"fields": ["top_recommendations"]}))
        return fieldsets

    @admin.display(description="Top recommendations")
    def top_recommendations(self, obj):
        return _recommendations(lambda engine: engine(learner_id=obj).get_recommendations(limit=10))

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("lessons.add_learningpath"):
            return actions
        for template in PathTemplate.objects.order_by("title"):
            action = _enrol_action(template)
            actions[action.__name__] = (action, action.__name__, action.short_description)
        return actions


def _enrol_action(template: PathTemplate):
    def action(modeladmin, request, queryset):
        enrolled, already = 0, 0
        for learner in queryset:
            try:
                services.learning_path_enrol(
                    learner=learner, template=template, acting_user=request.user
                )
                enrolled += 1
            except AlreadyEnrolledError:
                already += 1
        modeladmin.message_user(
            request, f"Enrolled {enrolled} learner(s) in {template.title}; {already} already were."
        )

    action.__name__ = f"enrol_in_{template.slug.replace('-', '_')}"
    action.short_description = f"Enrol in path: {template.title}"
    return action


admin.site.unregister(Learner)
admin.site.register(Learner, LearnerWithPathsAdmin)


# --- recommendations ----------------------------------------------------------------------


@admin.register(LearnerInteraction)
class LearnerInteractionAdmin(admin.ModelAdmin):
    list_display = ["created_at", "learner", "topic", "type", "weight", "lesson"]
    list_filter = ["type", "topic"]
    search_fields = ["learner__employee_id", "topic__slug"]
    list_select_related = ["learner", "topic", "lesson"]
    raw_id_fields = ["learner", "lesson"]
    date_hierarchy = "created_at"

    def has_change_permission(self, request, obj=None):
        return False  # append-only evidence


@admin.register(TopicSimilarity)
class TopicSimilarityAdmin(admin.ModelAdmin):
    list_display = ["topic", "similar_topic", "type", "score", "support", "updated_at"]
    list_filter = ["type", "topic"]
    list_select_related = ["topic", "similar_topic"]

    def has_add_permission(self, request):
        return False  # computed by the recommendation jobs

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SavedTopic)
class SavedTopicAdmin(admin.ModelAdmin):
    list_display = ["created_at", "learner", "topic"]
    list_select_related = ["learner", "topic"]
    raw_id_fields = ["learner"]


@admin.register(RecommendationCache)
class RecommendationCacheAdmin(admin.ModelAdmin):
    list_display = ["learner", "strategy", "created_at", "expires_at"]
    list_filter = ["strategy"]
    raw_id_fields = ["learner"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
