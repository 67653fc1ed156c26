"""Refusals of the learners domain; each has a stable code and maps to a 4xx in the API."""

from core.errors import DomainError


class LearnerError(DomainError):
    code = "learner_error"


class ChannelUnavailableError(LearnerError):
    """The learner cannot be reached on the asked channel (unknown, no address, opted out)."""

    code = "channel_unavailable"
    status_code = 400
    default_message = "The learner cannot receive messages on this channel."


class LearnerNotFoundError(LearnerError):
    code = "learner_not_found"
    status_code = 404
    default_message = "No learner profile for this account."


class VerificationCodeInvalidError(LearnerError):
    """Wrong, expired, spent or unknown: one answer for all, so nothing can be probed."""

    code = "invalid_code"
    status_code = 422  # well formed, but it does not prove anything
    default_message = "The code is not valid. Ask for a new one if it has expired."
