"""Money helpers: Decimal only, quantised to each currency's minor units (ISO 4217)."""

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# Minor units per ISO 4217 for the currencies Frontline may meet.
MINOR_UNITS: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CAD": 2,
    "AUD": 2,
    "NZD": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "MXN": 2,
    "BRL": 2,
    "INR": 2,
    "CNY": 2,
    "SGD": 2,
    "HKD": 2,
    "ZAR": 2,
    "JPY": 0,
    "KRW": 0,
    "CLP": 0,
    "ISK": 0,
    "VND": 0,
    "KWD": 3,
    "BHD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
}


class MoneyError(ValueError):
    pass


def minor_units(currency: str) -> int:
    try:
        return MINOR_UNITS[currency.upper()]
    except KeyError as exc:
        raise MoneyError(f"Unknown currency {currency!r}.") from exc


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def to_decimal(value: object) -> Decimal:
    """Parse a money amount strictly: Decimal, int or numeric string; never float, NaN or ±inf."""
    if isinstance(value, (bool, float)):
        raise MoneyError("Money amounts must be given as strings or Decimals, not floats.")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"{value!r} is not an amount.") from exc
    if not amount.is_finite():
        raise MoneyError(f"{value!r} is not a finite amount.")
    return amount


def has_valid_precision(amount: Decimal, currency: str) -> bool:
    """True when `amount` needs no more decimals than the currency has."""
    return amount == amount.quantize(quantum(currency), rounding=ROUND_HALF_EVEN)


def quantize(amount: Decimal, currency: str, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    return amount.quantize(quantum(currency), rounding=rounding)
