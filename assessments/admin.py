from django.contrib import admin

from assessments.models import AssessmentResult, ReviewItem
from core.admin import ReadOnlyAdmin  # answers and reviews are written by submit_answer only


@admin.register(AssessmentResult)
class AssessmentResultAdmin(ReadOnlyAdmin):
    list_display = [
        "attempted_at",
        "learner",
        "microlesson",
        "user_answer",
        "is_correct",
        "counted",
        "is_review",
        "channel",
        "time_taken_seconds",
    ]
    list_filter = ["is_correct", "counted", "is_review", "channel", "microlesson__topic"]
    search_fields = ["learner__employee_id", "learner__email", "microlesson__title"]
    list_select_related = ["learner", "microlesson"]
    date_hierarchy = "attempted_at"


@admin.register(ReviewItem)
class ReviewItemAdmin(ReadOnlyAdmin):
    list_display = ["learner", "microlesson", "box", "due_at", "last_answered_at", "retired_at"]
    list_filter = ["box", ("retired_at", admin.EmptyFieldListFilter)]
    search_fields = ["learner__employee_id", "microlesson__title"]
    list_select_related = ["learner", "microlesson"]
