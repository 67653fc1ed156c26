"""
Lessons: topics, microlessons (authored or generated), path templates, each learner's
learning paths (lifecycle in django-fsm) and the lessons a learner has completed.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.text import slugify
from django_fsm import FSMField, transition


class Difficulty(models.TextChoices):
    BEGINNER = "beginner", "Beginner"
    INTERMEDIATE = "intermediate", "Intermediate"
    ADVANCED = "advanced", "Advanced"


MIN_OPTIONS, MAX_OPTIONS = 2, 4


def validate_string_list(value, *, field: str, allow_empty: bool = True) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValidationError({field: "Must be a list of non-empty strings."})
    if not allow_empty and not value:
        raise ValidationError({field: "Must not be empty."})


def validate_quiz(*, options, correct_answer) -> None:
    """2-4 non-empty options and a 0-based correct index that points at one of them."""
    if not isinstance(options, list) or not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise ValidationError(
            {"quiz_options": f"Give between {MIN_OPTIONS} and {MAX_OPTIONS} options."}
        )
    if not all(isinstance(o, str) and o.strip() for o in options):
        raise ValidationError({"quiz_options": "Every option must be non-empty text."})
    if len({o.strip().lower() for o in options}) != len(options):
        raise ValidationError({"quiz_options": "Options must be distinct."})
    if (
        isinstance(correct_answer, bool)
        or not isinstance(correct_answer, int)
        or not 0 <= correct_answer < len(options)
    ):
        raise ValidationError(
            {"correct_answer": f"Must be an option index from 0 to {len(options) - 1}."}
        )


class Topic(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        validate_string_list(self.tags, field="tags")


class Microlesson(models.Model):
    """One bite-sized lesson with a single multiple-choice question (seed 000 §2.3)."""

    class Source(models.TextChoices):
        AUTHORED = "authored", "Authored"
        GENERATED = "generated", "Generated"

    key = models.SlugField(
        max_length=120,
        unique=True,
        null=True,
        blank=True,
        help_text="Stable key of an authored lesson; imports update by key.",
    )
    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="lessons")
    title = models.CharField(max_length=200)
    difficulty = models.CharField(
        max_length=16, choices=Difficulty.choices, default=Difficulty.BEGINNER
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.AUTHORED)
    content = models.TextField()
    key_points = models.JSONField(default=list, blank=True)
    scenario = models.TextField(blank=True)
    quiz_question = models.TextField()
    quiz_options = models.JSONField(default=list)
    correct_answer = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(MAX_OPTIONS - 1)]
    )
    explanation = models.TextField(blank=True)
    generated_for = models.ForeignKey(
        "learners.Learner",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The learner a generated lesson was written for (private to them).",
    )
    generator_metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["topic__title", "difficulty", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(correct_answer__lt=MAX_OPTIONS),
                name="lessons_microlesson_correct_answer_range",
            ),
            models.CheckConstraint(
                condition=models.Q(difficulty__in=Difficulty.values),
                name="lessons_microlesson_difficulty_valid",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(source="authored", key__isnull=False)
                    | models.Q(source="generated", generated_for__isnull=False)
                ),
                name="lessons_microlesson_source_consistent",
            ),
        ]
        indexes = [models.Index(fields=["topic", "difficulty"], name="lessons_topic_diff_idx")]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        validate_quiz(options=self.quiz_options, correct_answer=self.correct_answer)
        validate_string_list(self.key_points, field="key_points")
        if self.source == self.Source.AUTHORED and not self.key:
            self.key = slugify(self.title)[:120] or None
        if self.source == self.Source.GENERATED and self.generated_for_id is None:
            raise ValidationError({"generated_for": "A generated lesson belongs to a learner."})

    def is_correct(self, answer: int) -> bool:
        return answer == self.correct_answer


class RewardCohortKind(models.TextChoices):
    STORE = "store", "Store"
    REGION = "region", "Region"
    TEAM = "team", "Team"


def validate_reward(template: PathTemplate) -> None:
    """Amount, currency and budget come together: a gift card currency, an amount a card may
    hold, a budget that covers at least one reward."""
    from gift_cards.errors import GiftCardError
    from gift_cards.money import normalize_currency, parse_amount

    amount, budget = template.reward_amount, template.reward_monthly_budget
    if amount is None and budget is None:
        template.reward_currency = ""
        return
    if amount is None:
        raise ValidationError({"reward_amount": "Give the reward amount, or clear the budget."})
    if budget is None:
        raise ValidationError({"reward_monthly_budget": "A reward needs a monthly budget."})
    try:
        template.reward_currency = normalize_currency(template.reward_currency)
    except GiftCardError as exc:
        raise ValidationError({"reward_currency": exc.message}) from exc
    try:
        parse_amount(amount, template.reward_currency)
    except GiftCardError as exc:
        raise ValidationError({"reward_amount": exc.message}) from exc
    if budget < amount:
        raise ValidationError(
            {"reward_monthly_budget": "The budget must cover at least one reward."}
        )


class PathTemplate(models.Model):
    """A named, ordered list of topics learners are enrolled in (e.g. "onboarding")."""

    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    difficulty = models.CharField(
        max_length=16, choices=Difficulty.choices, default=Difficulty.BEGINNER
    )
    topics = models.JSONField(default=list, help_text="Ordered topic slugs.")
    # Completion reward (lessons.rewards): none when reward_amount is empty.
    reward_amount = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Gift card value issued to each learner who completes the path.",
    )
    reward_currency = models.CharField(max_length=3, blank=True)
    reward_monthly_budget = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Most the rewards of one cohort may add up to in a calendar month (UTC).",
    )
    reward_cohort_kind = models.CharField(
        max_length=16,
        choices=RewardCohortKind.choices,
        default=RewardCohortKind.STORE,
        help_text="Which of the learner's cohorts a reward is budgeted to.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reward_amount__isnull=True) | models.Q(reward_amount__gt=0),
                name="lessons_template_reward_amount_positive",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(reward_amount__isnull=True, reward_monthly_budget__isnull=True)
                    | models.Q(
                        reward_amount__isnull=False,
                        reward_monthly_budget__isnull=False,
                        reward_monthly_budget__gte=models.F("reward_amount"),
                    )
                ),
                name="lessons_template_reward_budget_covers_amount",
            ),
            models.CheckConstraint(
                condition=(models.Q(reward_amount__isnull=True) | ~models.Q(reward_currency="")),
                name="lessons_template_reward_currency_set",
            ),
            models.CheckConstraint(
                condition=models.Q(reward_cohort_kind__in=RewardCohortKind.values),
                name="lessons_template_reward_cohort_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def has_reward(self) -> bool:
        return self.reward_amount is not None

    def clean(self) -> None:
        validate_string_list(self.topics, field="topics", allow_empty=False)
        known = set(Topic.objects.filter(slug__in=self.topics).values_list("slug", flat=True))
        unknown = [slug for slug in self.topics if slug not in known]
        if unknown:
            raise ValidationError({"topics": f"Unknown topics: {', '.join(unknown)}."})
        validate_reward(self)


class LearningPath(models.Model):
    """A learner's way through an ordered list of topics (seed 000 §2.2).

    `current_position` is the index of the topic the learner is on; a correct answer to a
    lesson of that topic moves it on. The transitions below only change state and stamps:
    lessons.services locks the row, calls them and saves.
    """

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        IN_PROGRESS = "in_progress", "In progress"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"

    learner = models.ForeignKey(
        "learners.Learner", on_delete=models.CASCADE, related_name="learning_paths"
    )
    template = models.ForeignKey(
        PathTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="paths"
    )
    name = models.CharField(max_length=200)
    status = FSMField(default=Status.NOT_STARTED, choices=Status.choices, protected=True)
    difficulty = models.CharField(
        max_length=16, choices=Difficulty.choices, default=Difficulty.BEGINNER
    )
    topics = models.JSONField(default=list, help_text="Ordered topic slugs, copied at enrolment.")
    current_position = models.PositiveIntegerField(default=0)
    completion_percentage = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    started_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["learner", "template"],
                condition=models.Q(template__isnull=False),
                name="lessons_path_one_enrolment_per_template",
            ),
            models.CheckConstraint(
                condition=models.Q(completion_percentage__gte=0, completion_percentage__lte=100),
                name="lessons_path_percentage_range",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="completed") | models.Q(completed_at__isnull=False),
                name="lessons_path_completed_has_timestamp",
            ),
        ]
        indexes = [models.Index(fields=["learner", "status"], name="lessons_path_learner_st_idx")]

    def __str__(self) -> str:
        return f"{self.name} — {self.learner_id}"

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        # A protected FSMField refuses any assignment once loaded, including Django's own
        # reload; dropping the cached value lets the reload set it like a fresh instance.
        if fields is None or "status" in fields:
            self.__dict__.pop("status", None)
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)

    # --- reads ----------------------------------------------------------------------

    @property
    def total_topics(self) -> int:
        return len(self.topics)

    @property
    def current_topic_slug(self) -> str | None:
        if self.current_position < len(self.topics):
            return self.topics[self.current_position]
        return None

    def all_topics_done(self) -> bool:
        return self.current_position >= len(self.topics)

    def recompute_percentage(self) -> None:
        if not self.topics:
            self.completion_percentage = Decimal("0")
            return
        done = min(self.current_position, len(self.topics))
        self.completion_percentage = (Decimal(done) * 100 / len(self.topics)).quantize(
            Decimal("0.01")
        )

    # --- transitions (state and stamps only; services save) --------------------------

    @transition(
        field=status,
        source=Status.NOT_STARTED,
        target=Status.IN_PROGRESS,
        custom={"label": "Start"},
    )
    def start(self) -> None:
        self.started_at = timezone.now()

    @transition(
        field=status,
        source=Status.IN_PROGRESS,
        target=Status.PAUSED,
        custom={"label": "Pause"},
    )
    def pause(self) -> None:
        self.paused_at = timezone.now()

    @transition(
        field=status,
        source=Status.PAUSED,
        target=Status.IN_PROGRESS,
        custom={"label": "Resume"},
    )
    def resume(self) -> None:
        self.paused_at = None

    @transition(
        field=status,
        source=[Status.IN_PROGRESS, Status.PAUSED],
        target=Status.COMPLETED,
        conditions=[all_topics_done],
        # Completion comes from answers (lessons.services.lesson_complete, which also emits
        # path.completed); no admin button that would skip the event.
        custom={"label": "Complete", "admin": False},
    )
    def complete(self) -> None:
        self.completed_at = timezone.now()
        self.paused_at = None
        self.current_position = len(self.topics)
        self.completion_percentage = Decimal("100")


class LessonCompletion(models.Model):
    """A learner finished a lesson (answered it correctly). One row per learner and lesson."""

    learner = models.ForeignKey("learners.Learner", on_delete=models.CASCADE, related_name="+")
    microlesson = models.ForeignKey(
        Microlesson, on_delete=models.CASCADE, related_name="completions"
    )
    completed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-completed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["learner", "microlesson"], name="lessons_completion_once_per_learner"
            )
        ]

    def __str__(self) -> str:
        return f"{self.learner_id} completed {self.microlesson_id}"


# --- recommendations ----------------------------------------------------------------------


class InteractionType(models.TextChoices):
    """What a learner did with a topic (seed 003's view, cart_add, purchase, wishlist)."""

    DELIVERED = "delivered", "Delivered"
    STARTED = "started", "Started"
    COMPLETED = "completed", "Completed"
    SAVED = "saved", "Saved for later"


class LearnerInteraction(models.Model):
    """One thing a learner did with a topic; the recommendation engine's evidence.

    Append-only. `lesson` is the microlesson involved, when there was one (a bookmark is
    on the topic alone). `weight` is the configured weight of the type when recorded.
    """

    # No separate index on learner: the (learner, topic, type) index leads with it.
    learner = models.ForeignKey(
        "learners.Learner", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")
    lesson = models.ForeignKey(
        Microlesson, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    type = models.CharField(max_length=16, choices=InteractionType.choices)
    weight = models.DecimalField(max_digits=6, decimal_places=2)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(type__in=InteractionType.values),
                name="lessons_interaction_type_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(weight__gte=0), name="lessons_interaction_weight_nonnegative"
            ),
        ]
        indexes = [
            # A learner's profile: every interaction of one learner (the uncached request).
            models.Index(fields=["learner", "topic", "type"], name="lessons_inter_learner_idx"),
            # The co-occurrence window: completions since a time, by learner.
            models.Index(fields=["type", "created_at"], name="lessons_inter_type_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.learner_id} {self.type} {self.topic_id}"


class SavedTopic(models.Model):
    """A topic a learner bookmarked to come back to (the "saved" interaction's state)."""

    learner = models.ForeignKey("learners.Learner", on_delete=models.CASCADE, related_name="+")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["learner", "topic"], name="lessons_saved_topic_once")
        ]

    def __str__(self) -> str:
        return f"{self.learner_id} saved {self.topic_id}"


class SimilarityType(models.TextChoices):
    CO_OCCURRENCE = "co_occurrence", "Co-occurrence"
    CONTENT = "content", "Content"


class TopicSimilarity(models.Model):
    """How alike two topics are, in [0, 1], by what learners complete together or by content.

    Co-occurrence rows hold the cosine of the two topics' completion sets and `support`, the
    number of learners who completed both; the diagonal row (topic = similar topic) holds the
    number of learners who completed the topic, the popularity the engine falls back on.
    """

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="similarities")
    similar_topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")
    score = models.DecimalField(max_digits=7, decimal_places=6)
    type = models.CharField(max_length=16, choices=SimilarityType.choices)
    support = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["topic", "type", "-score"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__gte=0, score__lte=1),
                name="lessons_similarity_score_range",
            ),
            models.CheckConstraint(
                condition=models.Q(type__in=SimilarityType.values),
                name="lessons_similarity_type_valid",
            ),
            models.UniqueConstraint(
                fields=["topic", "similar_topic", "type"], name="lessons_similarity_pair_once"
            ),
        ]
        verbose_name_plural = "topic similarities"

    def __str__(self) -> str:
        return f"{self.topic_id}~{self.similar_topic_id} {self.type} {self.score}"


class RecommendationCache(models.Model):
    """The durable copy of a learner's computed recommendations (Redis holds the hot copy)."""

    learner = models.ForeignKey("learners.Learner", on_delete=models.CASCADE, related_name="+")
    strategy = models.CharField(
        max_length=32, help_text="The strategy, with +completed when completed topics are kept."
    )
    results = models.JSONField(default=list)
    generation = models.BigIntegerField(
        default=0, help_text="The similarity snapshot these were computed from."
    )
    epoch = models.BigIntegerField(
        default=0, help_text="The learner's cache epoch (bumped when their interactions change)."
    )
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["learner", "strategy"], name="lessons_reccache_learner_strategy"
            )
        ]

    def __str__(self) -> str:
        return f"{self.learner_id} {self.strategy}"


# Completion rewards live in lessons.rewards; imported here so Django registers them.
from lessons.rewards.models import PathReward, RewardBudget  # noqa: E402, F401
