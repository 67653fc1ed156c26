"""
Gift-card rules on top of `core.money`: which currencies a card may hold, the largest amount
one card may carry, and strict parsing of amounts (no floats, no NaN, no rounding away of
extra decimals: "10.005" USD is refused, not silently made "10.00" or "10.01").
"""

from decimal import Decimal

from django.conf import settings

from core import money
from gift_cards.errors import InvalidAmountError, UnsupportedCurrencyError

ZERO = Decimal(0)


def supported_currencies() -> list[str]:
    return [c.upper() for c in settings.GIFT_CARD_CURRENCIES]


def normalize_currency(currency: object) -> str:
    if not isinstance(currency, str) or currency.strip().upper() not in supported_currencies():
        raise UnsupportedCurrencyError(
            f"{currency!r} is not a gift card currency.",
            currency=str(currency),
            supported=supported_currencies(),
        )
    code = currency.strip().upper()
    try:
        money.minor_units(code)
    except money.MoneyError as exc:  # configured but unknown to ISO 4217 table
        raise UnsupportedCurrencyError(f"{code} has no known minor units.") from exc
    return code


def max_amount(currency: str) -> Decimal:
    limits = settings.GIFT_CARD_MAX_AMOUNTS
    raw = limits.get(currency, limits.get("*", "2000"))
    return Decimal(str(raw))


def parse_amount(value: object, currency: str, *, check_maximum: bool = True) -> Decimal:
    """A positive Decimal with no more decimals than `currency` has, quantised to them."""
    try:
        amount = money.to_decimal(value)
    except money.MoneyError as exc:
        raise InvalidAmountError(str(exc), amount=repr(value)) from exc
    if amount <= ZERO:
        raise InvalidAmountError("The amount must be greater than zero.", amount=str(amount))
    if not money.has_valid_precision(amount, currency):
        raise InvalidAmountError(
            f"{currency} amounts have at most {money.minor_units(currency)} decimals.",
            amount=str(amount),
        )
    if check_maximum and amount > max_amount(currency):
        raise InvalidAmountError(
            f"The amount is over the {currency} maximum of {max_amount(currency)}.",
            amount=str(amount),
            maximum=str(max_amount(currency)),
        )
    return money.quantize(amount, currency)


def as_currency(amount: Decimal, currency: str) -> Decimal:
    """A stored amount (three decimals in the database) shown with the currency's decimals."""
    return money.quantize(amount, currency)
