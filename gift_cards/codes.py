"""
Gift card codes: generated from `secrets` over an unambiguous alphabet, ending in a check
character, and stored only as an HMAC-SHA256 under a server key plus the last four
characters for display.

    PREFIX-XXXX-XXXX-XXXX-XXXC    (16 characters after the prefix, C = check character)

The alphabet drops 0/O and 1/I so a code read aloud or off a plastic card is unambiguous;
32 symbols give 5 bits each, so the default 15 random characters carry 75 bits. The check
character is Luhn mod 32 over the body: every single mistyped character and nearly every swap
of two adjacent characters is caught before the database is asked anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core import signing

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_INDEX = {char: i for i, char in enumerate(ALPHABET)}
_N = len(ALPHABET)
GROUP = 4
DEFAULT_PREFIX = "GIFT"
DEFAULT_LENGTH = 16
MIN_LENGTH = 8
MAX_LENGTH = 32
_PREFIX_RE = re.compile(r"^[A-Z0-9]{1,10}$")


def check_character(body: str) -> str:
    """Luhn mod N: the character that makes `body + char` validate."""
    factor = 2
    total = 0
    for char in reversed(body):
        addend = factor * _INDEX[char]
        factor = 1 if factor == 2 else 2
        total += addend // _N + addend % _N
    return ALPHABET[(_N - total % _N) % _N]


def _check_passes(body_with_check: str) -> bool:
    factor = 1
    total = 0
    for char in reversed(body_with_check):
        addend = factor * _INDEX[char]
        factor = 1 if factor == 2 else 2
        total += addend // _N + addend % _N
    return total % _N == 0


@dataclass(frozen=True)
class ParsedCode:
    prefix: str
    body: str

    @property
    def canonical(self) -> str:
        groups = [self.body[i : i + GROUP] for i in range(0, len(self.body), GROUP)]
        return "-".join([self.prefix, *groups])

    @property
    def last_four(self) -> str:
        return self.body[-4:]


def parse(code: object) -> ParsedCode | None:
    """Canonical form of a typed code (case, spaces and inner hyphens forgiven) or None."""
    if not isinstance(code, str) or len(code) > 80:
        return None
    text = code.strip().upper().replace(" ", "")
    prefix, sep, rest = text.partition("-")
    if not sep or not _PREFIX_RE.match(prefix):
        return None
    body = rest.replace("-", "")
    if not MIN_LENGTH <= len(body) <= MAX_LENGTH or len(body) % GROUP:
        return None
    if any(char not in _INDEX for char in body) or not _check_passes(body):
        return None
    return ParsedCode(prefix=prefix, body=body)


class CodeGenerator:
    """Generates codes and validates their format and check character (seed 003)."""

    def generate(self, prefix: str = DEFAULT_PREFIX, length: int = DEFAULT_LENGTH) -> str:
        """A fresh code like `GIFT-XXXX-XXXX-XXXX-XXXX`; `length` counts the characters after
        the prefix, the check character included (a multiple of 4, 8 to 32)."""
        prefix = prefix.strip().upper()
        if not _PREFIX_RE.match(prefix):
            raise ValueError("The prefix must be 1-10 letters or digits.")
        if not MIN_LENGTH <= length <= MAX_LENGTH or length % GROUP:
            raise ValueError(f"length must be a multiple of {GROUP} from {MIN_LENGTH} to 32.")
        random_part = "".join(secrets.choice(ALPHABET) for _ in range(length - 1))
        return ParsedCode(prefix, random_part + check_character(random_part)).canonical

    def valid_format(self, code: str) -> bool:
        """Whether `code` is well formed and its check character matches (no lookup)."""
        return parse(code) is not None


@lru_cache(maxsize=4)
def _derived_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"frontline.gift_cards.code-key", "sha256").digest()


def code_key() -> bytes:
    """GIFT_CARD_CODE_KEY if set (production should set it: rotating SECRET_KEY must not make
    every card unfindable), else a key derived from SECRET_KEY."""
    configured = settings.GIFT_CARD_CODE_KEY
    if configured:
        return configured.encode()
    return _derived_key(settings.SECRET_KEY)


def code_hash(parsed: ParsedCode) -> str:
    return hmac.new(code_key(), parsed.canonical.encode(), hashlib.sha256).hexdigest()


def hashes_match(stored: str, candidate: str) -> bool:
    """Constant-time comparison of two code hashes."""
    return hmac.compare_digest(stored.encode(), candidate.encode())


def masked(prefix: str, last_four: str, length: int = DEFAULT_LENGTH) -> str:
    """`GIFT-****-****-****-AB7K`: how a stored card is shown after creation."""
    hidden = ["****"] * (length // GROUP - 1)
    return "-".join([prefix, *hidden, last_four])


# --- sealed codes (the recipient email's way through the broker) -------------------------
# The recipient email is sent by a worker, but a plain code must never sit in a broker
# message, a task log line or a stored result. The task gets the card id and this sealed
# form instead: a Fernet token (cryptography: AES-128-CBC with HMAC-SHA256, timestamped)
# under a key derived from the code key, so only this deployment can open it, and only
# for SEAL_MAX_AGE_SECONDS.
SEAL_MAX_AGE_SECONDS = 7 * 24 * 3600


def _fernet() -> Fernet:
    key = hmac.new(code_key(), b"frontline.gift_cards.seal", "sha256").digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(code: str) -> str:
    """An opaque, tamper-evident form of `code` that only this server can open."""
    return _fernet().encrypt(code.encode()).decode()


def unseal(sealed: str, *, max_age: int = SEAL_MAX_AGE_SECONDS) -> str:
    """The code inside `sealed`; signing.BadSignature if forged or older than `max_age`."""
    if max_age < 0:  # Fernet has no negative ttl: nothing is younger than that
        raise signing.BadSignature("The sealed code has expired.")
    try:
        return _fernet().decrypt(sealed.encode(), ttl=max_age).decode()
    except (InvalidToken, ValueError) as exc:
        raise signing.BadSignature("The sealed code is forged or expired.") from exc
