"""Consent belongs to the address: an SMS STOP/START from a number applies to every
learner on that number, and the consent record names the address and the message.

The attack: a learner put a colleague's phone on their own profile; the colleague's STOP
then opted out the other learner (the first profile found for the number) while the
colleague kept receiving texts.
"""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from delivery.models import ConsentRecord
from tests.delivery import conftest as delivery_fixtures
from tests.delivery.conftest import PUBLIC_BASE_URL
from tests.delivery.fakes import TWILIO_TOKEN
from tests.learners.factories import LearnerFactory
from tests.learners.support import VERIFY_CONTACT

pytestmark = pytest.mark.django_db

# The delivery tests' providers on loopback: Twilio and Slack fakes, an SMTP sink.
live = delivery_fixtures.live
providers = delivery_fixtures.providers
smtp_sink = delivery_fixtures.smtp_sink

SMS_PATH = "/webhooks/twilio/sms"
PHONE = "+15557654321"


def _sms(client, number, body, sid):
    params = {"From": number, "Body": body, "MessageSid": sid}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_BASE_URL + SMS_PATH, params)
    return client.post(SMS_PATH, params, HTTP_X_TWILIO_SIGNATURE=signature)


def test_a_colleagues_stop_cannot_be_aimed_at_another_learner(
    client,
    api_client,
    live,
    django_user_model,
    django_capture_on_commit_callbacks,
):
    # given: Bob owns the phone; Alice tries to put it on her profile through self-service
    bob = LearnerFactory(last_name="Zed", phone=PHONE, preferred_channel="sms")
    alice_user = django_user_model.objects.create_user(username="alice")
    alice = LearnerFactory(last_name="Able", user=alice_user, phone="+15550000001")
    api_client.force_authenticate(alice_user)
    with django_capture_on_commit_callbacks(execute=True):
        api_client.patch("/api/v1/me/", {"phone": PHONE}, format="json")
    api_client.post(VERIFY_CONTACT, {"channel": "sms", "code": "000000"}, format="json")
    # when: Bob texts STOP
    response = _sms(client, PHONE, "STOP", "SM" + "1" * 32)
    # then: Bob is opted out, Alice (who never proved the phone) is untouched
    bob.refresh_from_db()
    alice.refresh_from_db()
    assert response.status_code == 200
    assert bob.sms_opted_out is True
    assert (alice.phone, alice.sms_opted_out) == ("+15550000001", False)
    assert list(ConsentRecord.objects.values_list("learner_id", flat=True)) == [bob.pk]


def test_stop_and_start_apply_to_every_learner_on_the_number(client, live):
    # given: two profiles share one phone (set by staff, e.g. a store's shared phone)
    first = LearnerFactory(phone=PHONE)
    second = LearnerFactory(phone=PHONE)
    elsewhere = LearnerFactory(phone="+15550000009")
    # when
    _sms(client, PHONE, "stop", "SM" + "2" * 32)
    stopped = sorted(
        ConsentRecord.objects.values_list("learner_id", "action", "address", "sender", "message")
    )
    _sms(client, PHONE, "START", "SM" + "3" * 32)
    # then
    assert stopped == sorted(
        [
            (first.pk, "opt_out", PHONE, PHONE, "stop"),
            (second.pk, "opt_out", PHONE, PHONE, "stop"),
        ]
    )
    for learner in (first, second, elsewhere):
        learner.refresh_from_db()
        assert learner.sms_opted_out is False
    assert ConsentRecord.objects.filter(action="opt_in", address=PHONE).count() == 2
    assert not ConsentRecord.objects.filter(learner=elsewhere).exists()


def test_a_phone_that_said_stop_stays_stopped_when_another_learner_proves_it(
    api_client,
    client,
    live,
    django_user_model,
    django_capture_on_commit_callbacks,
):
    # given: the number already opted out
    LearnerFactory(phone=PHONE)
    _sms(client, PHONE, "STOP", "SM" + "4" * 32)
    user = django_user_model.objects.create_user(username="newcomer")
    learner = LearnerFactory(user=user, phone="")
    api_client.force_authenticate(user)
    with django_capture_on_commit_callbacks(execute=True):
        api_client.patch("/api/v1/me/", {"phone": PHONE}, format="json")
    [text] = [r["body"]["Body"] for r in live.accepted_for("twilio") if r["body"]["To"] == PHONE]
    from tests.learners.support import code_in

    # when
    api_client.post(VERIFY_CONTACT, {"channel": "sms", "code": code_in(text)}, format="json")
    # then
    learner.refresh_from_db()
    assert (learner.phone, learner.sms_opted_out) == (PHONE, True)


def test_a_staff_consent_change_records_the_address(live, staff_user):
    from delivery.services import consent_change

    learner = LearnerFactory(phone=PHONE)
    record = consent_change(
        learner=learner, channel="sms", opted_out=True, method="staff", acting_user=staff_user
    )
    assert (record.address, record.sender, record.acting_user) == (PHONE, "", staff_user)
