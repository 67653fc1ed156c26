"""Refusals of the lessons domain."""

from core.errors import ConflictError, DomainError


class LessonsError(DomainError):
    code = "lessons_error"


class PathTransitionError(ConflictError):
    """A learning path cannot move to the asked state from where it is."""

    code = "path_transition_not_allowed"
    default_message = "This learning path cannot make that transition."


class AlreadyEnrolledError(ConflictError):
    code = "already_enrolled"
    default_message = "The learner is already enrolled in this path."


class PathTemplateNotFoundError(LessonsError):
    code = "path_template_not_found"
    status_code = 404
    default_message = "No such learning path template."


class LessonBankError(LessonsError):
    """A lesson bank file that cannot be loaded; `errors` lists each problem."""

    code = "invalid_lesson_bank"
    default_message = "The lesson bank is invalid."


class LessonGeneratorError(Exception):
    """The lesson generator failed (HTTP error, timeout, malformed or invalid JSON)."""


class NoLessonAvailableError(LessonsError):
    code = "no_lesson_available"
    status_code = 404
    default_message = "No lesson is available for this topic."


# --- recommendations ----------------------------------------------------------------------


class RecommendationError(LessonsError):
    code = "recommendation_error"


class InvalidLearnerError(RecommendationError):
    """A blank or malformed learner id (seed 003's ArgumentError)."""

    code = "invalid_learner"
    default_message = "A learner id is required."


class LearnerNotFoundError(RecommendationError):
    code = "learner_not_found"
    status_code = 404
    default_message = "No such learner."


class TopicNotFoundError(RecommendationError):
    code = "topic_not_found"
    status_code = 404
    default_message = "No such topic."


class InvalidStrategyError(RecommendationError):
    code = "invalid_strategy"
    default_message = "Unknown recommendation strategy."


class InvalidInteractionError(RecommendationError):
    code = "invalid_interaction"
    default_message = "The interaction is invalid."


class InvalidLimitError(RecommendationError):
    code = "invalid_limit"
    default_message = "limit is out of range."
