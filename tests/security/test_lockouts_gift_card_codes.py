"""Invalid gift card codes lock out the account and the card aimed at; the shared store
address has its own, higher limit, so colleagues are not locked out by one person."""

import pytest
from rest_framework.test import APIClient

from gift_cards import codes
from gift_cards.codes import CodeGenerator
from gift_cards.services import GiftCardService

pytestmark = pytest.mark.django_db

BALANCE = "/api/v1/gift-cards/balance/"
STORE = "198.51.100.90"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.GIFT_CARD_CODE_BURST = 1000
    settings.GIFT_CARD_CODE_ADDRESS_BURST = 1000
    settings.GIFT_CARD_LOCKOUT_THRESHOLD = 5
    settings.GIFT_CARD_ADDRESS_LOCKOUT_THRESHOLD = 12


@pytest.fixture
def till(make_account):
    def make(address=STORE):
        client = APIClient(REMOTE_ADDR=address)
        client.force_authenticate(make_account("gift_cards.check_balance_giftcard", staff=False))
        return client

    return make


@pytest.fixture
def real_code():
    return GiftCardService().create(amount="25", purchaser_id="p").code


def guesses_aimed_at(code: str, count: int) -> list[str]:
    """Well-formed codes ending in the same four characters as `code`, like an attacker's."""
    parsed = codes.parse(code)
    found: list[str] = []
    while len(found) < count:
        head = codes.parse(CodeGenerator().generate()).body[: -len(parsed.last_four)]
        for char in codes.ALPHABET:  # one position varied hits every check residue
            body = char + head[1:] + parsed.last_four
            candidate = codes.parse(f"{parsed.prefix}-{body}")
            if candidate and body != parsed.body:
                found.append(candidate.canonical)
                break
    return found


def _check(client, code):
    return client.post(BALANCE, {"code": code})


def test_one_associates_guesses_do_not_lock_out_a_colleague_at_the_same_store(till, real_code):
    # given two associates behind the store's one address
    guesser, colleague = till(), till()
    # when one of them sends five invalid codes
    statuses = [_check(guesser, CodeGenerator().generate()).status_code for _ in range(5)]
    # then that associate is locked out, the colleague is not
    assert statuses == [404] * 5
    assert _check(guesser, real_code).status_code == 429
    assert _check(colleague, real_code).status_code == 200


def test_the_store_address_is_still_limited_higher_up(till, real_code):
    # twelve invalid codes from three accounts at one address lock the address
    for _ in range(3):
        client = till()
        for _ in range(4):
            _check(client, CodeGenerator().generate())
    assert _check(till(), real_code).status_code == 429
    assert _check(till(address="198.51.100.91"), real_code).status_code == 200


def test_guesses_at_one_card_lock_that_card_across_accounts_and_addresses(till, real_code):
    # given an attacker who knows a card's prefix and last four (printed on receipts)
    guesses = guesses_aimed_at(real_code, 5)
    # when each guess comes from another account at another address
    for n, guess in enumerate(guesses):
        assert _check(till(address=f"203.0.113.{n}"), guess).status_code == 404
    # then the card itself is locked for a while, even for its rightful holder
    assert _check(till(address="203.0.113.200"), real_code).status_code == 429
    # while other cards are not
    other = GiftCardService().create(amount="5", purchaser_id="p").code
    assert _check(till(address="203.0.113.201"), other).status_code == 200


def test_staff_list_and_lift_gift_card_lockouts(till, real_code, admin_client):
    guesser = till()
    for _ in range(5):
        _check(guesser, CodeGenerator().generate())
    assert _check(guesser, real_code).status_code == 429
    page = admin_client.get("/admin/lockouts/").content.decode()
    assert "gift_cards.account" in page
    from core.lockouts import active_lockouts

    [lockout] = [lo for lo in active_lockouts() if lo.name == "gift_cards.account"]
    admin_client.post("/admin/lockouts/", {"lockout": lockout.member})
    assert _check(guesser, real_code).status_code == 200
