"""Refusals of the returns domain, each with a stable `code` and HTTP status (core maps them)."""

from core.errors import ConflictError, DomainError, NotFoundError, ServiceUnavailableError


class ReturnsError(DomainError):
    code = "returns_error"


class OrderNotFoundError(NotFoundError, ReturnsError):
    code = "order_not_found"
    default_message = "Order not found."


class ReturnNotFoundError(NotFoundError, ReturnsError):
    code = "return_not_found"
    default_message = "Return not found."


class ReturnWindowExpiredError(ReturnsError):
    code = "return_window_expired"
    status_code = 422
    default_message = "The return window for this order has closed."


class ItemNotReturnableError(ReturnsError):
    code = "item_not_returnable"
    status_code = 422
    default_message = "This item cannot be returned."


class InvalidQuantityError(ReturnsError):
    code = "invalid_quantity"
    status_code = 422
    default_message = "The quantity is more than can be returned."


class InvalidStateError(ConflictError, ReturnsError):
    code = "invalid_state"
    default_message = "The return is not in a state that allows this."


class ItemsNotReceivedError(ConflictError, ReturnsError):
    code = "items_not_received"
    default_message = "The returned items have not been received yet."


class InvalidRefundAmountError(ReturnsError):
    code = "invalid_refund_amount"
    status_code = 422
    default_message = "The refund amount is not allowed."


class RefundInProgressError(ConflictError, ReturnsError):
    code = "refund_in_progress"
    default_message = "A refund for this return is already in progress."


class RefundFailedError(ServiceUnavailableError, ReturnsError):
    """The refund did not go through; the return stays retryable and a job retries it."""

    code = "refund_failed"
    status_code = 502
    default_message = "The refund could not be processed now; it will be retried."


class RefundRejectedError(ReturnsError):
    """The payments service refused the refund: staff must pick another refund method."""

    code = "refund_rejected"
    status_code = 422
    default_message = "The payments service rejected the refund."


class CustomerAccessLinkInvalidError(ReturnsError):
    """Forged, expired, already used or superseded: one answer for all, nothing to probe."""

    code = "invalid_link"
    status_code = 422  # well formed, but it does not prove anything
    default_message = "This link is not valid any more; ask for a new one."
