"""Refusals of the delivery domain; each has a stable code and maps to a 4xx."""

from core.errors import DomainError


class DeliveryError(DomainError):
    code = "delivery_error"


class TaskStateError(DeliveryError):
    code = "task_state"
    status_code = 409
    default_message = "The delivery task cannot make this transition from its current state."


class AnswerLinkInvalidError(DeliveryError):
    code = "answer_link_invalid"
    status_code = 404
    default_message = "This answer link is not valid."


class AnswerLinkExpiredError(DeliveryError):
    code = "answer_link_expired"
    status_code = 410
    default_message = "This answer link has expired."


class AnswerLinkUsedError(DeliveryError):
    code = "answer_link_used"
    status_code = 410
    default_message = "This answer link has already been used."
