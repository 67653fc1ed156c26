"""
Refusals of the gift card domain. Each has a stable `code` (clients branch on it) and the
HTTP status the API answers with; `core.api.exceptions` turns them into JSON.
"""

from core.errors import DomainError


class GiftCardError(DomainError):
    code = "gift_card_error"
    status_code = 400
    default_message = "The gift card request could not be completed."


class InvalidAmountError(GiftCardError):
    code = "invalid_amount"
    status_code = 422  # over the currency's maximum, or finer than its minor units
    default_message = "The amount is not valid."


class UnsupportedCurrencyError(GiftCardError):
    code = "unsupported_currency"
    status_code = 400
    default_message = "The currency is not supported for gift cards."


class InvalidCodeError(GiftCardError):
    """Malformed, mistyped (bad check character) or unknown code: one answer for all three,
    so a caller learns nothing about which codes exist."""

    code = "invalid_code"
    status_code = 404
    default_message = "The gift card code is not valid."


class ExpiredCardError(GiftCardError):
    code = "card_expired"
    status_code = 409
    default_message = "The gift card has expired."


class CardVoidedError(GiftCardError):
    code = "card_voided"
    status_code = 409
    default_message = "The gift card has been voided."


class InsufficientBalanceError(GiftCardError):
    code = "insufficient_balance"
    status_code = 409
    default_message = "The gift card balance is lower than the amount requested."


class AlreadyRedeemedError(GiftCardError):
    code = "already_redeemed"
    status_code = 409
    default_message = "The gift card has no balance left."


class RedemptionNotFoundError(GiftCardError):
    code = "redemption_not_found"
    status_code = 404
    default_message = "No such redemption."


class RefundExceedsRedemptionError(GiftCardError):
    code = "refund_exceeds_redemption"
    status_code = 409
    default_message = "The refund is larger than what is left of the redemption."


class CurrencyMismatchError(GiftCardError):
    code = "currency_mismatch"
    status_code = 409
    default_message = "The gift cards have different currencies."


class SameCardTransferError(GiftCardError):
    code = "same_card_transfer"
    status_code = 400
    default_message = "A transfer needs two different gift cards."


class TransferExceedsCapacityError(GiftCardError):
    """The destination would hold more than its original amount (a database invariant)."""

    code = "transfer_exceeds_capacity"
    status_code = 409
    default_message = "The destination card cannot hold more than its original amount."


class IdempotencyConflictError(GiftCardError):
    code = "idempotency_key_reused"
    status_code = 409
    default_message = "This idempotency key was already used for a different request."


class BulkLimitError(GiftCardError):
    code = "bulk_limit_exceeded"
    status_code = 400
    default_message = "Too many cards requested in one batch."


class InvalidExpiryError(GiftCardError):
    code = "invalid_expiry"
    status_code = 422  # a date in the past: what is past depends on the clock
    default_message = "The expiry date must be in the future."


class CodeLockoutError(GiftCardError):
    """Too many invalid codes from one client: brute-force protection."""

    code = "too_many_invalid_codes"
    status_code = 429
    default_message = "Too many invalid gift card codes; try again later."
