"""Self-registration only claims an HR roster entry, proven by a code emailed to the
roster address.

The attacks: registration let a caller pick any employee id (it became the username) and
their own role; whoever registered an employee id first kept that employee's record after
the HR import; and the answers told whether an employee id or email existed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from learners.models import Learner, LearnerVerification
from tests.learners.factories import CohortFactory, LearnerFactory
from tests.learners.support import (
    REGISTER,
    configure_email,
    emailed_code,
    lift_registration_throttle,
    request_code,
)
from tests.lessons.conftest import bank  # noqa: F401  (the onboarding path)

pytestmark = pytest.mark.django_db

PASSWORD = "a-Long-pass-phrase-9"


@pytest.fixture
def roster(settings, bank):  # noqa: F811
    """Jane (EMP100) is on the HR roster as imported: a manager at Leeds, no account."""
    configure_email(settings)
    return LearnerFactory(
        employee_id="EMP100",
        email="jane.roe@frontline.test",
        role="manager",
        store=CohortFactory(name="Leeds"),
        user=None,
    )


def _claim(client, code, employee_id="EMP100", **extra):
    body = {"employee_id": employee_id, "code": code, "password": PASSWORD, **extra}
    return client.post(REGISTER, body, format="json")


def test_claiming_someone_elses_employee_id_without_their_code_fails(
    api_client, roster, django_capture_on_commit_callbacks
):
    # given: the attacker asks for a code, which goes to Jane's roster email only
    asked = request_code(
        api_client,
        django_capture_on_commit_callbacks,
        employee_id="EMP100",
        email="attacker@evil.test",
    )
    # when: they guess
    guesses = [_claim(api_client, code) for code in ("000000", "123456")]
    # the old body: pick the id, a name, a role and a password
    old_style = api_client.post(
        REGISTER,
        {
            "employee_id": "EMP100",
            "email": "attacker@evil.test",
            "first_name": "Eve",
            "last_name": "X",
            "role": "regional_director",
            "password": PASSWORD,
        },
        format="json",
    )
    # then
    assert asked.status_code == 202
    assert [m.to for m in mail.outbox] == [["jane.roe@frontline.test"]]
    assert {g.status_code for g in guesses} == {422}
    assert {g.json()["code"] for g in guesses} == {"invalid_code"}
    assert old_style.status_code == 422  # no code: a rule across fields
    assert not get_user_model().objects.exists()
    assert Learner.objects.get(pk=roster.pk).user_id is None


def test_the_request_cannot_set_role_store_or_email(
    api_client, roster, django_capture_on_commit_callbacks
):
    # given
    request_code(api_client, django_capture_on_commit_callbacks, employee_id="EMP100")
    code = emailed_code(roster.email)
    # when
    response = _claim(
        api_client,
        code,
        role="regional_director",
        email="attacker@evil.test",
        store=None,
        first_name="Eve",
    )
    # then
    assert response.status_code == 201, response.json()
    learner = Learner.objects.select_related("user", "store").get(pk=roster.pk)
    assert (learner.role, learner.store.name, learner.email) == (
        "manager",
        "Leeds",
        "jane.roe@frontline.test",
    )
    assert learner.user.email == "jane.roe@frontline.test"
    assert learner.user.first_name == roster.first_name
    assert response.json()["role"] == "manager"


def test_step_one_answers_the_same_whatever_exists(
    api_client, roster, django_user_model, django_capture_on_commit_callbacks, settings
):
    # given: EMP200 is registered already; EMP999 is not on the roster; six asks from one
    # address, over its hourly limit
    lift_registration_throttle(settings)
    LearnerFactory(
        employee_id="EMP200",
        email="taken@frontline.test",
        user=django_user_model.objects.create_user(username="EMP200"),
    )
    # when
    answers = [
        request_code(api_client, django_capture_on_commit_callbacks, **keys)
        for keys in (
            {"employee_id": "EMP100"},
            {"employee_id": "EMP999"},
            {"employee_id": "EMP200"},
            {"email": "jane.roe@frontline.test"},
            {"email": "nobody@frontline.test"},
            {"email": "taken@frontline.test"},
        )
    ]
    # then
    assert {a.status_code for a in answers} == {202}
    assert len({a.content for a in answers}) == 1
    assert [m.to for m in mail.outbox] == [["jane.roe@frontline.test"]] * 2


def test_step_two_answers_the_same_for_unknown_claimed_or_wrong(
    api_client, roster, django_user_model
):
    LearnerFactory(
        employee_id="EMP200", user=django_user_model.objects.create_user(username="EMP200")
    )
    answers = [
        _claim(api_client, "123456", employee_id=employee_id)
        for employee_id in ("EMP100", "EMP999", "EMP200")
    ]
    assert {a.status_code for a in answers} == {422}
    assert len({a.content for a in answers}) == 1


def test_five_wrong_codes_void_the_code(
    api_client, roster, django_capture_on_commit_callbacks, settings
):
    # given: seven calls from one address, over its hourly limit
    lift_registration_throttle(settings)
    request_code(api_client, django_capture_on_commit_callbacks, employee_id="EMP100")
    code = emailed_code(roster.email)
    wrong = "000000" if code != "000000" else "111111"
    # when
    for _ in range(5):
        assert _claim(api_client, wrong).status_code == 422
    right = _claim(api_client, code)
    # then
    assert right.status_code == 422 and right.json()["code"] == "invalid_code"
    verification = LearnerVerification.objects.get()
    assert verification.attempts == 5 and verification.voided_at is not None
    assert not get_user_model().objects.exists()


def test_the_code_is_single_use_and_a_claimed_employee_cannot_be_claimed_again(
    api_client, roster, django_capture_on_commit_callbacks
):
    request_code(api_client, django_capture_on_commit_callbacks, employee_id="EMP100")
    code = emailed_code(roster.email)
    assert _claim(api_client, code).status_code == 201
    assert _claim(api_client, code).status_code == 422
    mail.outbox.clear()
    again = request_code(api_client, django_capture_on_commit_callbacks, employee_id="EMP100")
    assert again.status_code == 202 and mail.outbox == []
    assert get_user_model().objects.count() == 1


def test_an_expired_code_or_one_replaced_by_a_newer_one_is_refused(
    api_client, roster, django_capture_on_commit_callbacks
):
    # given: a first code, replaced by a second
    request_code(api_client, django_capture_on_commit_callbacks, employee_id="EMP100")
    first = emailed_code(roster.email)
    request_code(api_client, django_capture_on_commit_callbacks, employee_id="EMP100")
    second = emailed_code(roster.email)
    # when / then: the first is void (refused even if the two happen to be equal)
    assert LearnerVerification.objects.filter(voided_at__isnull=False).count() == 1
    if first != second:
        assert _claim(api_client, first).status_code == 422
    LearnerVerification.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _claim(api_client, second).status_code == 422
    assert not get_user_model().objects.exists()


def test_the_code_is_stored_only_as_a_keyed_hash(
    api_client, roster, django_capture_on_commit_callbacks
):
    request_code(api_client, django_capture_on_commit_callbacks, employee_id="EMP100")
    code = emailed_code(roster.email)
    verification = LearnerVerification.objects.get()
    assert verification.address == "jane.roe@frontline.test"
    assert len(verification.code_hash) == 64 and code not in verification.code_hash


def test_staff_invite_from_the_admin_sends_the_claim_code(
    client, roster, django_user_model, django_capture_on_commit_callbacks
):
    # given
    admin = django_user_model.objects.create_superuser(username="hr", password="x-pass-123456")
    client.force_login(admin)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/learners/learner/",
            {"action": "invite_to_register", "_selected_action": [roster.pk]},
        )
    # then
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["jane.roe@frontline.test"]]
    verification = LearnerVerification.objects.get()
    assert verification.acting_user == admin
    code = emailed_code(roster.email)
    listing = client.get("/admin/learners/learnerverification/")
    assert listing.status_code == 200 and b"jane.roe@frontline.test" in listing.content
    assert verification.code_hash.encode() not in listing.content
    from rest_framework.test import APIClient

    assert _claim(APIClient(), code).status_code == 201
