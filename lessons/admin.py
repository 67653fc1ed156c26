"""
Lessons admin: topics, lessons, path templates and learning paths (with django-fsm
transition buttons). It also extends the learner admin with the learner's paths inline
and "enrol in <path>" actions, because learners cannot import lessons.
"""

from django.contrib import admin, messages
from django_fsm.admin import FSMAdminMixin

from learners.admin import LearnerAdmin
from learners.models import Learner
from lessons import services
from lessons.errors import AlreadyEnrolledError, PathTransitionError
from lessons.models import LearningPath, LessonCompletion, Microlesson, PathTemplate, Topic


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "lesson_count", "updated_at"]
    search_fields = ["slug", "title", "description"]
    prepopulated_fields = {"slug": ["title"]}

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
    list_display = ["title", "slug", "difficulty", "topic_count", "enrolled"]
    search_fields = ["slug", "title"]

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
    inlines = [LearningPathInline, LessonCompletionInline]

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
