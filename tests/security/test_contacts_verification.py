"""A learner's new phone or Slack id is proven before anything is sent there.

The attack: a learner put a colleague's phone (or Slack id) on their own profile through
self-service. Now the new value waits as pending, a code goes to it by SMS (Twilio) or
Slack DM, and only the code makes it the learner's address; until then messages keep going
to the proven address. Codes are hashed, single use, expiring, five tries, never logged.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from learners.models import Learner, LearnerVerification
from tests.commits import committed
from tests.delivery import conftest as delivery_fixtures
from tests.learners.factories import LearnerFactory
from tests.learners.support import VERIFY_CONTACT, code_in

pytestmark = pytest.mark.django_db

# The delivery tests' providers on loopback: Twilio and Slack fakes, an SMTP sink.
live = delivery_fixtures.live
providers = delivery_fixtures.providers
smtp_sink = delivery_fixtures.smtp_sink

COLLEAGUE_PHONE = "+15557654321"


@pytest.fixture
def me(api_client, django_user_model, live):
    """A signed-in learner with a proven phone and Slack id."""
    user = django_user_model.objects.create_user(username="EMP-ME")
    learner = LearnerFactory(
        employee_id="EMP-ME", user=user, phone="+15550000001", slack_user_id="UME000001"
    )
    api_client.force_authenticate(user)
    api_client.learner = learner
    return api_client


def _patch(client, capture, **body):
    with committed(capture):
        return client.patch("/api/v1/me/", body, format="json")


def _sms_to(fake, number):
    return [r["body"]["Body"] for r in fake.accepted_for("twilio") if r["body"]["To"] == number]


def _dms_to(fake, user_id):
    return [
        r["body"]["text"] for r in fake.accepted_for("slack") if r["body"]["channel"] == user_id
    ]


def test_a_colleagues_phone_is_not_taken_without_the_code(
    me,
    live,
    django_capture_on_commit_callbacks,
):
    # given: a colleague owns the phone
    LearnerFactory(phone=COLLEAGUE_PHONE)
    # when
    response = _patch(me, django_capture_on_commit_callbacks, phone=COLLEAGUE_PHONE)
    guess = me.post(VERIFY_CONTACT, {"channel": "sms", "code": "000000"}, format="json")
    # then: pending, a code went to that phone (not to the learner), nothing changed
    assert response.status_code == 200
    assert response.json()["phone"] == "+15550000001"
    assert response.json()["pending_phone"] == COLLEAGUE_PHONE
    assert len(_sms_to(live, COLLEAGUE_PHONE)) == 1
    assert _sms_to(live, "+15550000001") == []
    assert guess.status_code == 422 and guess.json()["code"] == "invalid_code"
    learner = Learner.objects.get(pk=me.learner.pk)
    assert learner.phone == "+15550000001"
    assert learner.delivery_address("sms") == "+15550000001"  # messages keep the old one


def test_the_code_texted_to_the_new_phone_makes_it_the_address(
    me,
    live,
    django_capture_on_commit_callbacks,
):
    # given
    _patch(me, django_capture_on_commit_callbacks, phone="+15559990000")
    code = code_in(_sms_to(live, "+15559990000")[-1])
    # when
    response = me.post(VERIFY_CONTACT, {"channel": "sms", "code": code}, format="json")
    # then
    assert response.status_code == 200, response.json()
    assert response.json()["phone"] == "+15559990000"
    assert response.json()["pending_phone"] is None
    assert Learner.objects.get(pk=me.learner.pk).delivery_address("sms") == "+15559990000"
    again = me.post(VERIFY_CONTACT, {"channel": "sms", "code": code}, format="json")
    assert again.status_code == 422  # single use


def test_a_slack_id_is_not_taken_without_the_dm_code(
    me,
    live,
    django_capture_on_commit_callbacks,
):
    # when
    response = _patch(me, django_capture_on_commit_callbacks, slack_user_id="UCOLLEAGUE")
    wrong = me.post(VERIFY_CONTACT, {"channel": "slack", "code": "000000"}, format="json")
    # then
    assert response.json()["slack_user_id"] == "UME000001"
    assert response.json()["pending_slack_user_id"] == "UCOLLEAGUE"
    [dm] = _dms_to(live, "UCOLLEAGUE")
    assert wrong.status_code == 422
    assert Learner.objects.get(pk=me.learner.pk).delivery_address("slack") == "UME000001"
    # and the real code (from the DM) proves it
    ok = me.post(VERIFY_CONTACT, {"channel": "slack", "code": code_in(dm)}, format="json")
    assert ok.status_code == 200 and ok.json()["slack_user_id"] == "UCOLLEAGUE"


def test_five_wrong_codes_void_the_pending_phone(
    me,
    live,
    django_capture_on_commit_callbacks,
):
    _patch(me, django_capture_on_commit_callbacks, phone="+15559990000")
    code = code_in(_sms_to(live, "+15559990000")[-1])
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        me.post(VERIFY_CONTACT, {"channel": "sms", "code": wrong}, format="json")
    response = me.post(VERIFY_CONTACT, {"channel": "sms", "code": code}, format="json")
    assert response.status_code == 422
    assert Learner.objects.get(pk=me.learner.pk).phone == "+15550000001"
    assert me.get("/api/v1/me/").json()["pending_phone"] is None


def test_an_expired_code_is_refused(me, live, django_capture_on_commit_callbacks):
    _patch(me, django_capture_on_commit_callbacks, phone="+15559990000")
    code = code_in(_sms_to(live, "+15559990000")[-1])
    LearnerVerification.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = me.post(VERIFY_CONTACT, {"channel": "sms", "code": code}, format="json")
    assert response.status_code == 422
    assert Learner.objects.get(pk=me.learner.pk).phone == "+15550000001"


def test_the_code_is_hashed_and_never_logged(
    me,
    live,
    caplog,
    django_capture_on_commit_callbacks,
):
    # given: the first send fails for good, the second goes through
    live.fail_next("twilio", "invalid_to")
    with caplog.at_level(logging.DEBUG):
        _patch(me, django_capture_on_commit_callbacks, phone="+15559990000")
        _patch(me, django_capture_on_commit_callbacks, phone="+15559990001")
        code = code_in(_sms_to(live, "+15559990001")[-1])
        me.post(VERIFY_CONTACT, {"channel": "sms", "code": code}, format="json")
    # then
    assert any("verification code refused" in r.getMessage() for r in caplog.records)
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert code not in logged
    for verification in LearnerVerification.objects.all():
        assert code not in verification.code_hash


def test_removing_a_phone_applies_at_once_and_staff_edits_are_direct(
    me,
    live,
    api_client,
    django_capture_on_commit_callbacks,
):
    response = _patch(me, django_capture_on_commit_callbacks, phone="")
    assert response.status_code == 200 and response.json()["phone"] == ""
    assert live.accepted_for("twilio") == []
    # staff (a trusted source, like the HR import) set an address directly
    learner = Learner.objects.get(pk=me.learner.pk)
    from learners.services import learner_update

    learner_update(learner=learner, data={"phone": "+15551112222"})
    assert Learner.objects.get(pk=learner.pk).phone == "+15551112222"


def test_bad_contact_values_are_field_errors(me, live):
    bad = me.patch("/api/v1/me/", {"phone": "12"}, format="json")
    assert bad.status_code == 400 and "phone" in bad.json()["errors"]
    # a channel id would post the code where others read it
    channel = me.patch("/api/v1/me/", {"slack_user_id": "C0PUBLIC1"}, format="json")
    assert channel.status_code == 400 and "slack_user_id" in channel.json()["errors"]
    assert live.accepted_for("slack") == []
    wrong_channel = me.post(VERIFY_CONTACT, {"channel": "fax", "code": "1"}, format="json")
    assert wrong_channel.status_code == 400 and "channel" in wrong_channel.json()["errors"]
