"""Unit: code generation, format, check character, keyed hashing."""

import re

import pytest

from gift_cards import codes
from gift_cards.codes import ALPHABET, CodeGenerator

CODE_RE = re.compile(
    r"^GIFT-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$"
)


def test_default_code_has_the_documented_shape():
    # when
    code = CodeGenerator().generate()
    # then
    assert CODE_RE.match(code), code


def test_prefix_and_length_are_honoured():
    code = CodeGenerator().generate(prefix="promo", length=8)
    assert re.match(r"^PROMO-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$", code)


@pytest.mark.parametrize("length", [7, 10, 36, 0])
def test_lengths_that_are_not_groups_of_four_are_refused(length):
    with pytest.raises(ValueError):
        CodeGenerator().generate(length=length)


@pytest.mark.parametrize("prefix", ["", "GIFT-1", "TOO-LONG-PREFIX", "GIFT CARD"])
def test_malformed_prefixes_are_refused(prefix):
    with pytest.raises(ValueError):
        CodeGenerator().generate(prefix=prefix)


def test_alphabet_has_no_ambiguous_characters():
    assert not set("01IO") & set(ALPHABET)
    assert len(set(ALPHABET)) == 32


def test_generated_codes_pass_their_own_validation():
    generator = CodeGenerator()
    assert all(generator.valid_format(generator.generate()) for _ in range(200))


def test_every_single_character_typo_is_caught():
    # given
    code = CodeGenerator().generate()
    generator = CodeGenerator()
    positions = [i for i, ch in enumerate(code) if ch in ALPHABET and i > 4]
    # when / then: replacing any body character by any other symbol fails the check
    for i in positions:
        for symbol in ALPHABET:
            if symbol == code[i]:
                continue
            typo = code[:i] + symbol + code[i + 1 :]
            assert not generator.valid_format(typo), typo


def test_most_adjacent_swaps_are_caught():
    generator = CodeGenerator()
    caught = total = 0
    for _ in range(50):
        body = codes.parse(generator.generate()).body
        for i in range(len(body) - 1):
            if body[i] == body[i + 1]:
                continue
            swapped = body[:i] + body[i + 1] + body[i] + body[i + 2 :]
            total += 1
            caught += not generator.valid_format("GIFT-" + swapped)
    assert caught / total > 0.95


def test_parse_forgives_case_spaces_and_missing_inner_hyphens():
    # given
    code = CodeGenerator().generate()
    sloppy = "  " + code.lower().replace("-", "", 3).replace("gift", "gift-") + " "
    # when
    parsed = codes.parse(sloppy)
    # then
    assert parsed is not None
    assert parsed.canonical == code


@pytest.mark.parametrize("value", [None, 12345, "", "GIFT", "GIFT-", "NOPREFIX", "G" * 200])
def test_parse_rejects_non_codes(value):
    assert codes.parse(value) is None


def test_code_with_an_ambiguous_character_is_invalid():
    code = CodeGenerator().generate()
    assert not CodeGenerator().valid_format(code[:-1] + "O")


def test_hash_is_keyed_hmac_not_plain_sha256(settings):
    # given
    parsed = codes.parse(CodeGenerator().generate())
    settings.GIFT_CARD_CODE_KEY = "key-one"
    first = codes.code_hash(parsed)
    # when
    settings.GIFT_CARD_CODE_KEY = "key-two"
    second = codes.code_hash(parsed)
    # then
    assert first != second
    assert len(first) == 64
    import hashlib

    assert first != hashlib.sha256(parsed.canonical.encode()).hexdigest()


def test_default_key_is_derived_from_secret_key_not_equal_to_it(settings):
    settings.GIFT_CARD_CODE_KEY = ""
    key = codes.code_key()
    assert key != settings.SECRET_KEY.encode()
    assert len(key) == 32


def test_hash_is_the_same_for_every_spelling_of_a_code():
    code = CodeGenerator().generate()
    assert codes.code_hash(codes.parse(code)) == codes.code_hash(codes.parse(code.lower()))


def test_masked_code_shows_only_the_last_four():
    assert codes.masked("GIFT", "AB7K") == "GIFT-****-****-****-AB7K"
    assert codes.masked("PROMO", "ZZ22", length=8) == "PROMO-****-ZZ22"


def test_generate_takes_prefix_and_length_positionally_too():
    assert re.match(
        r"^CARD-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$", CodeGenerator().generate("CARD", 8)
    )
