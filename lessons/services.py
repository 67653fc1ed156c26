"""
Writes for lessons: enrolment and path transitions, lesson completion and path progress,
registration (claiming an HR roster entry + onboarding path), and the lesson bank import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django_fsm import TransitionNotAllowed

from core.errors import ServiceUnavailableError
from core.outbox import publish_event
from learners import services as learner_services
from learners.errors import VerificationCodeInvalidError
from learners.models import Learner, LearnerVerification
from lessons.errors import (
    AlreadyEnrolledError,
    LessonBankError,
    PathTemplateNotFoundError,
    PathTransitionError,
)
from lessons.models import (
    Difficulty,
    LearningPath,
    LessonCompletion,
    Microlesson,
    PathTemplate,
    Topic,
    validate_quiz,
    validate_string_list,
)

# --- enrolment and transitions ------------------------------------------------------------


@transaction.atomic
def learning_path_enrol(
    *, learner: Learner, template: PathTemplate, acting_user=None
) -> LearningPath:
    """Give `learner` their own path from `template` (topics copied, not started)."""
    path = LearningPath(
        learner=learner,
        template=template,
        name=template.title,
        difficulty=template.difficulty,
        topics=list(template.topics),
    )
    try:
        with transaction.atomic():
            path.save()
    except IntegrityError as exc:
        raise AlreadyEnrolledError(
            f"{learner.employee_id} is already enrolled in {template.slug}.",
            template=template.slug,
        ) from exc
    return path


def path_template_get(*, slug: str) -> PathTemplate:
    try:
        return PathTemplate.objects.get(slug=slug)
    except PathTemplate.DoesNotExist as exc:
        raise PathTemplateNotFoundError(f"No path template {slug!r}.", slug=slug) from exc


_TRANSITIONS = {"start", "pause", "resume", "complete"}


@transaction.atomic
def learning_path_transition(
    *, path: LearningPath, transition: str, acting_user=None
) -> LearningPath:
    """Apply one lifecycle transition (start, pause, resume, complete) under a row lock."""
    if transition not in _TRANSITIONS:
        raise PathTransitionError(f"Unknown transition {transition!r}.", transition=transition)
    path = LearningPath.objects.select_for_update().get(pk=path.pk)
    was = path.status
    try:
        getattr(path, transition)()
    except TransitionNotAllowed as exc:
        message = f"Cannot {transition} a path that is {path.get_status_display().lower()}."
        if transition == "complete" and was != LearningPath.Status.COMPLETED:
            left = max(path.total_topics - path.current_position, 0)
            if left:
                message = f"Cannot complete a path with {left} topic(s) left."
        raise PathTransitionError(message, transition=transition, status=was) from exc
    path.save()
    if path.status == LearningPath.Status.COMPLETED:
        _path_completed_event(path)
    return path


def _path_completed_event(path: LearningPath) -> None:
    publish_event(
        "path.completed",
        {
            "learning_path_id": path.pk,
            "learner_id": path.learner_id,
            "template": path.template.slug if path.template_id else None,
            "completed_at": path.completed_at.isoformat(),
        },
    )


# --- registration -----------------------------------------------------------------------


class OnboardingNotConfiguredError(ServiceUnavailableError):
    code = "onboarding_not_configured"
    default_message = "Registration is closed until an onboarding path is configured."


@dataclass(frozen=True)
class Registration:
    learner: Learner
    learning_path: LearningPath


def learner_registration_request(*, employee_id: str = "", email: str = "") -> None:
    """Step 1 of registration: a claim code goes to the roster email of that employee, if
    they are on the HR roster and not registered yet. The same (nothing) either way."""
    learner_services.learner_claim_request(employee_id=employee_id, email=email)


def learner_register(
    *,
    code: str,
    password: str,
    employee_id: str = "",
    email: str = "",
    path_slug: str | None = None,
) -> Registration:
    """Step 2: claim the roster entry with the emailed code, all or nothing (seed 000 §3.2).

    Only an employee already on the HR roster (`import_learners`), not yet linked to an
    account, can be claimed, and only with the code sent to the roster's email. The account
    takes its names and email from the roster; role, store and cohorts are the roster's and
    nothing in the request can set them. The account and the onboarding enrolment commit
    together; a wrong code is counted and then refused with VerificationCodeInvalidError,
    the same answer as for an unknown or already registered employee.

    This lives in lessons, not learners, because it needs both apps and the dependency
    direction is learners ← lessons. Raises VerificationCodeInvalidError, ValidationError
    (password) or OnboardingNotConfiguredError; a refusal after the code was right leaves
    the code usable.
    """
    slug = path_slug or settings.ONBOARDING_PATH_SLUG
    with transaction.atomic():
        learner = learner_services.learner_claimable(employee_id=employee_id, email=email)
        if learner is not None:
            learner = Learner.objects.select_for_update().get(pk=learner.pk)
        verification = learner_services.verification_attempt(
            learner=learner if learner is not None and learner.user_id is None else None,
            purpose=LearnerVerification.Purpose.CLAIM,
            code=code,
        )
        if verification is not None:
            # A refusal in here (weak password, no onboarding path) rolls the whole block
            # back, the spent code included.
            return _claim_and_enrol(learner=learner, password=password, slug=slug)
    raise VerificationCodeInvalidError()


def _claim_and_enrol(*, learner: Learner, password: str, slug: str) -> Registration:
    template = PathTemplate.objects.filter(slug=slug).first()
    if template is None:
        raise OnboardingNotConfiguredError(f"No path template {slug!r}.", slug=slug)
    learner = learner_services.learner_claim(learner=learner, password=password)
    path = LearningPath.objects.filter(learner=learner, template=template).first()
    if path is None:
        path = learning_path_enrol(learner=learner, template=template)
    publish_event(
        "learner.registered",
        {"learner_id": learner.pk, "employee_id": learner.employee_id, "path_id": path.pk},
    )
    return Registration(learner=learner, learning_path=path)


# --- completion and progress --------------------------------------------------------------


@dataclass
class CompletionOutcome:
    completion: LessonCompletion
    newly_completed: bool
    advanced_paths: list[LearningPath] = field(default_factory=list)
    completed_paths: list[LearningPath] = field(default_factory=list)


_OPEN_STATUSES = [
    LearningPath.Status.NOT_STARTED,
    LearningPath.Status.IN_PROGRESS,
    LearningPath.Status.PAUSED,
]


@transaction.atomic
def lesson_complete(
    *, learner: Learner, microlesson: Microlesson, channel: str = ""
) -> CompletionOutcome:
    """Mark the lesson completed once, and move on every open path that was on its topic.

    A second call for the same lesson changes nothing (the completion row is unique). A
    path that was not started starts, a paused one resumes (the learner is back), and one
    whose last topic this was completes; lesson.completed and path.completed are emitted.
    """
    try:
        with transaction.atomic():
            completion = LessonCompletion.objects.create(learner=learner, microlesson=microlesson)
    except IntegrityError:
        completion = LessonCompletion.objects.get(learner=learner, microlesson=microlesson)
        return CompletionOutcome(completion=completion, newly_completed=False)

    outcome = CompletionOutcome(completion=completion, newly_completed=True)
    publish_event(
        "lesson.completed",
        {
            "learner_id": learner.pk,
            "microlesson_id": microlesson.pk,
            "topic": microlesson.topic.slug,
            "channel": channel,
            "completed_at": completion.completed_at.isoformat(),
        },
    )
    paths = (
        LearningPath.objects.select_for_update()
        .filter(learner=learner, status__in=_OPEN_STATUSES)
        .order_by("id")
    )
    for path in paths:
        if path.current_topic_slug != microlesson.topic.slug:
            continue
        if path.status == LearningPath.Status.NOT_STARTED:
            path.start()
        elif path.status == LearningPath.Status.PAUSED:
            path.resume()
        path.current_position += 1
        path.recompute_percentage()
        if path.all_topics_done():
            path.complete()
            outcome.completed_paths.append(path)
        path.save()
        outcome.advanced_paths.append(path)
        if path.status == LearningPath.Status.COMPLETED:
            _path_completed_event(path)
            if path.template_id and path.template.slug == settings.ONBOARDING_PATH_SLUG:
                learner_services.learner_mark_onboarded(learner=learner)
    return outcome


# --- lesson bank import -----------------------------------------------------------------


@dataclass
class BankImportSummary:
    topics_created: int = 0
    topics_updated: int = 0
    lessons_created: int = 0
    lessons_updated: int = 0
    paths_created: int = 0
    paths_updated: int = 0

    def __str__(self) -> str:
        return (
            f"topics {self.topics_created} created, {self.topics_updated} updated; "
            f"lessons {self.lessons_created} created, {self.lessons_updated} updated; "
            f"paths {self.paths_created} created, {self.paths_updated} updated"
        )


def _collect(errors: list[str], where: str, exc: ValidationError) -> None:
    for name, messages in exc.message_dict.items():
        for message in messages:
            errors.append(f"{where}: {name}: {message}")


def _require(item: dict, keys: list[str], where: str, errors: list[str]) -> bool:
    missing = [k for k in keys if k not in item or item[k] in (None, "")]
    for key in missing:
        errors.append(f"{where}: {key}: This field is required.")
    return not missing


def _validate_bank(data: Any) -> list[str]:
    errors: list[str] = []
    if not isinstance(data, dict):
        return ["The bank must be an object with topics, lessons and paths."]
    topics = data.get("topics") or []
    lessons = data.get("lessons") or []
    paths = data.get("paths") or []
    for name, value in (("topics", topics), ("lessons", lessons), ("paths", paths)):
        if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
            errors.append(f"{name}: must be a list of objects.")
    if errors:
        return errors
    known_topics = set(Topic.objects.values_list("slug", flat=True))
    seen: set[str] = set()
    for i, item in enumerate(topics):
        where = f"topics[{i}]"
        if _require(item, ["slug", "title"], where, errors):
            if item["slug"] in seen:
                errors.append(f"{where}: slug: duplicate {item['slug']!r}.")
            seen.add(item["slug"])
            try:
                validate_string_list(item.get("tags", []), field="tags")
            except ValidationError as exc:
                _collect(errors, where, exc)
    known_topics |= seen
    keys: set[str] = set()
    for i, item in enumerate(lessons):
        where = f"lessons[{i}]"
        if not _require(
            item,
            ["key", "topic", "title", "content", "quiz_question", "quiz_options"],
            where,
            errors,
        ):
            continue
        if "correct_answer" not in item:
            errors.append(f"{where}: correct_answer: This field is required.")
            continue
        if item["key"] in keys:
            errors.append(f"{where}: key: duplicate {item['key']!r}.")
        keys.add(item["key"])
        if item["topic"] not in known_topics:
            errors.append(f"{where}: topic: unknown topic {item['topic']!r}.")
        if item.get("difficulty", "beginner") not in Difficulty.values:
            errors.append(f"{where}: difficulty: must be one of {', '.join(Difficulty.values)}.")
        try:
            validate_quiz(options=item["quiz_options"], correct_answer=item["correct_answer"])
            validate_string_list(item.get("key_points", []), field="key_points")
        except ValidationError as exc:
            _collect(errors, where, exc)
    for i, item in enumerate(paths):
        where = f"paths[{i}]"
        if not _require(item, ["slug", "title", "topics"], where, errors):
            continue
        try:
            validate_string_list(item["topics"], field="topics", allow_empty=False)
        except ValidationError as exc:
            _collect(errors, where, exc)
            continue
        for slug in item["topics"]:
            if slug not in known_topics:
                errors.append(f"{where}: topics: unknown topic {slug!r}.")
        if item.get("difficulty", "beginner") not in Difficulty.values:
            errors.append(f"{where}: difficulty: must be one of {', '.join(Difficulty.values)}.")
    return errors


@transaction.atomic
def lesson_bank_import(*, data: dict[str, Any]) -> BankImportSummary:
    """Load topics, authored lessons and path templates; idempotent on slug/key.

    The whole bank is validated first and LessonBankError lists every problem; nothing
    is written unless every entry is valid.
    """
    errors = _validate_bank(data)
    if errors:
        raise LessonBankError(f"{len(errors)} problem(s) in the lesson bank.", errors=errors)
    summary = BankImportSummary()
    topics_by_slug: dict[str, Topic] = {}
    for item in data.get("topics") or []:
        topic, created = Topic.objects.update_or_create(
            slug=item["slug"],
            defaults={
                "title": item["title"],
                "description": item.get("description", ""),
                "tags": list(item.get("tags", [])),
            },
        )
        topics_by_slug[topic.slug] = topic
        summary.topics_created += created
        summary.topics_updated += not created
    for item in data.get("lessons") or []:
        topic = topics_by_slug.get(item["topic"]) or Topic.objects.get(slug=item["topic"])
        _lesson, created = Microlesson.objects.update_or_create(
            key=item["key"],
            defaults={
                "topic": topic,
                "title": item["title"],
                "difficulty": item.get("difficulty", Difficulty.BEGINNER),
                "source": Microlesson.Source.AUTHORED,
                "content": item["content"],
                "key_points": list(item.get("key_points", [])),
                "scenario": item.get("scenario", ""),
                "quiz_question": item["quiz_question"],
                "quiz_options": list(item["quiz_options"]),
                "correct_answer": item["correct_answer"],
                "explanation": item.get("explanation", ""),
            },
        )
        summary.lessons_created += created
        summary.lessons_updated += not created
    for item in data.get("paths") or []:
        _template, created = PathTemplate.objects.update_or_create(
            slug=item["slug"],
            defaults={
                "title": item["title"],
                "description": item.get("description", ""),
                "difficulty": item.get("difficulty", Difficulty.BEGINNER),
                "topics": list(item["topics"]),
            },
        )
        summary.paths_created += created
        summary.paths_updated += not created
    return summary


def lesson_bank_load(path) -> dict[str, Any]:
    """Parse a JSON or YAML bank file (by extension; YAML is a superset of JSON)."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        if str(path).endswith(".json"):
            return json.loads(text)
        return yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise LessonBankError(f"Cannot parse {path}: {exc}", errors=[str(exc)]) from exc
