"""Security: code entropy, keyed constant-time lookup, throttling, lockout, staff-only actions."""

import hmac
import math
from collections import Counter

import pytest
from django.db import connection
from django.urls import reverse

from gift_cards import codes
from gift_cards.codes import ALPHABET, CodeGenerator
from gift_cards.models import GiftCard

pytestmark = pytest.mark.django_db


def url(name):
    return reverse(f"gift_cards:{name}")


def test_codes_carry_at_least_75_bits_and_use_the_whole_alphabet_evenly():
    # given
    generator = CodeGenerator()
    bodies = [codes.parse(generator.generate()).body[:-1] for _ in range(4000)]
    # then: 15 random symbols of 32 = 75 bits, no repeats, every symbol about equally likely
    assert math.log2(len(ALPHABET)) * len(bodies[0]) >= 75
    assert len(set(bodies)) == len(bodies)
    counts = Counter("".join(bodies))
    expected = len(bodies) * 15 / 32
    assert set(counts) == set(ALPHABET)
    # chi-square with 31 degrees of freedom: 80 is far beyond the 99.999th percentile
    chi_square = sum((counts[c] - expected) ** 2 / expected for c in ALPHABET)
    assert chi_square < 80


def test_the_plain_code_is_stored_nowhere(service):
    # given
    card = service.create(amount="10", purchaser_id="u", recipient_email="r@example.com")
    service.redeem(code=card.code, order_id="o", amount="1")
    body = codes.parse(card.code).body
    # when: every text column of every gift card, ledger and outbox row is searched
    with connection.cursor() as cursor:
        for table in ("gift_cards_giftcard", "gift_cards_giftcardtransaction", "core_outboxevent"):
            cursor.execute(f"SELECT * FROM {table}")
            dump = " ".join(str(v) for row in cursor.fetchall() for v in row)
            # then
            assert body not in dump.replace("-", "")


def test_lookup_compares_hashes_in_constant_time(service, monkeypatch):
    card = service.create(amount="10", purchaser_id="u")
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(codes.hmac, "compare_digest", spy)
    service.check_balance(code=card.code)
    stored = GiftCard.objects.get(pk=card.pk).code_hash.encode()
    assert (stored, stored) in calls


def test_codes_are_unfindable_without_the_server_key(service, settings):
    settings.GIFT_CARD_CODE_KEY = "original-key"
    card = service.create(amount="10", purchaser_id="u")
    settings.GIFT_CARD_CODE_KEY = "attacker-guess"
    from gift_cards.errors import InvalidCodeError

    with pytest.raises(InvalidCodeError):
        service.check_balance(code=card.code)


def test_balance_checks_are_rate_limited_per_client(client_for, settings, service):
    # given a burst of 3
    settings.GIFT_CARD_CODE_BURST = 3
    settings.GIFT_CARD_CODE_RATE_PER_MINUTE = 1
    code = service.create(amount="10", purchaser_id="u").code
    customer = client_for("check_balance_giftcard", ip="10.0.0.1")
    # when
    statuses = [
        customer.post(url("gift-card-balance"), {"code": code}).status_code for _ in range(4)
    ]
    # then
    assert statuses == [200, 200, 200, 429]
    refused = customer.post(url("gift-card-balance"), {"code": code})
    assert refused.json()["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0


def test_rate_limit_also_holds_per_ip_across_accounts(client_for, settings, service):
    settings.GIFT_CARD_CODE_ADDRESS_BURST = 2
    settings.GIFT_CARD_CODE_ADDRESS_RATE_PER_MINUTE = 1
    code = service.create(amount="10", purchaser_id="u").code
    accounts = [client_for("check_balance_giftcard", ip="10.9.9.9") for _ in range(3)]
    statuses = [c.post(url("gift-card-balance"), {"code": code}).status_code for c in accounts]
    assert statuses == [200, 200, 429]
    elsewhere = client_for("check_balance_giftcard", ip="10.1.1.1")
    assert elsewhere.post(url("gift-card-balance"), {"code": code}).status_code == 200


def test_repeated_invalid_codes_lock_the_client_out(client_for, settings, service):
    # given
    settings.GIFT_CARD_LOCKOUT_THRESHOLD = 3
    real_code = service.create(amount="10", purchaser_id="u").code
    attacker = client_for("check_balance_giftcard", ip="10.6.6.6")
    guesses = [CodeGenerator().generate() for _ in range(3)]
    # when
    statuses = [attacker.post(url("gift-card-balance"), {"code": g}).status_code for g in guesses]
    locked = attacker.post(url("gift-card-balance"), {"code": real_code})
    # then: even a valid code is refused during the lockout, and redeeming is too
    assert statuses == [404, 404, 404]
    assert locked.status_code == 429
    assert locked.json()["code"] == "too_many_invalid_codes"
    assert int(locked["Retry-After"]) > 0
    other = client_for("check_balance_giftcard", ip="10.7.7.7")
    assert other.post(url("gift-card-balance"), {"code": real_code}).status_code == 200


def test_valid_codes_do_not_reset_the_invalid_code_count(client_for, settings, service):
    settings.GIFT_CARD_LOCKOUT_THRESHOLD = 3
    own_code = service.create(amount="10", purchaser_id="u").code
    attacker = client_for("check_balance_giftcard", ip="10.5.5.5")
    for _ in range(2):
        attacker.post(url("gift-card-balance"), {"code": CodeGenerator().generate()})
        assert attacker.post(url("gift-card-balance"), {"code": own_code}).status_code == 200
    # the third miss locks the client out despite the successes in between
    attacker.post(url("gift-card-balance"), {"code": CodeGenerator().generate()})
    assert attacker.post(url("gift-card-balance"), {"code": own_code}).status_code == 429


@pytest.mark.parametrize(
    "perms, staff, expected",
    [
        ((), False, 403),
        (("void_giftcard",), False, 403),
        ((), True, 403),
        (("void_giftcard",), True, 200),
    ],
)
def test_void_needs_staff_with_the_void_permission(client_for, service, perms, staff, expected):
    card = service.create(amount="10", purchaser_id="u")
    response = client_for(*perms, staff=staff).post(
        url("gift-card-void"), {"gift_card_id": card.pk, "reason": "x"}
    )
    assert response.status_code == expected
    assert GiftCard.objects.get(pk=card.pk).status == ("voided" if expected == 200 else "active")


@pytest.mark.parametrize(
    "perms, staff, expected",
    [
        ((), True, 403),
        (("bulk_create_giftcard",), False, 403),
        (("bulk_create_giftcard",), True, 201),
    ],
)
def test_bulk_creation_needs_staff_with_the_bulk_permission(client_for, perms, staff, expected):
    response = client_for(*perms, staff=staff).post(
        url("gift-card-bulk"), {"count": 2, "amount": "5"}
    )
    assert response.status_code == expected
    assert GiftCard.objects.count() == (2 if expected == 201 else 0)


def test_anonymous_callers_are_refused(api_client, service):
    code = service.create(amount="10", purchaser_id="u").code
    assert api_client.post(url("gift-card-balance"), {"code": code}).status_code == 401
    assert (
        api_client.post(url("gift-card-redeem"), {"code": code, "order_id": "o"}).status_code == 401
    )


def test_issuing_and_redeeming_need_their_permissions(client_for, service):
    code = service.create(amount="10", purchaser_id="u").code
    customer = client_for()
    assert (
        customer.post(url("gift-card-create"), {"amount": "5", "purchaser_id": "me"}).status_code
        == 403
    )
    assert (
        customer.post(url("gift-card-redeem"), {"code": code, "order_id": "o"}).status_code == 403
    )
    assert GiftCard.objects.get().balance == 10


def test_a_spoofed_forwarded_for_header_does_not_escape_the_ip_limit(client_for, settings, service):
    settings.GIFT_CARD_CODE_ADDRESS_BURST = 2
    settings.GIFT_CARD_CODE_ADDRESS_RATE_PER_MINUTE = 1
    code = service.create(amount="10", purchaser_id="u").code
    statuses = [
        client_for("check_balance_giftcard", ip="10.4.4.4")
        .post(url("gift-card-balance"), {"code": code}, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
        .status_code
        for n in range(3)
    ]
    assert statuses == [200, 200, 429]
