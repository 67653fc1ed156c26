import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from learners.errors import ChannelUnavailableError
from learners.models import Cohort, Learner
from tests.learners.factories import CohortFactory, LearnerFactory

pytestmark = pytest.mark.django_db


def _valid(**overrides) -> Learner:
    fields = {
        "employee_id": "EMP1",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@frontline.test",
        "role": "sales_associate",
        "preferred_channel": "email",
    }
    fields.update(overrides)
    return Learner(**fields)


def test_a_complete_learner_is_valid():
    _valid(phone="+15551234567").full_clean()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("email", ""),
        ("role", "cashier"),
        ("role", ""),
        ("preferred_channel", "pigeon"),
        ("knowledge_level", "expert"),
        ("phone", "5551234567"),
        ("phone", "+0123"),
        ("phone", "+1 555 123 4567"),
        ("employee_id", ""),
        ("first_name", ""),
        ("last_name", ""),
        ("time_zone", "Mars/Olympus"),
    ],
)
def test_each_invalid_field_is_refused_with_a_field_error(field, value):
    # given
    learner = _valid(**{field: value})
    # when / then
    with pytest.raises(ValidationError) as excinfo:
        learner.full_clean()
    assert field in excinfo.value.message_dict


def test_sms_preference_needs_a_phone_and_slack_needs_a_user_id():
    with pytest.raises(ValidationError) as excinfo:
        _valid(preferred_channel="sms", phone="").full_clean()
    assert "phone" in excinfo.value.message_dict
    with pytest.raises(ValidationError) as excinfo:
        _valid(preferred_channel="slack", slack_user_id="").full_clean()
    assert "slack_user_id" in excinfo.value.message_dict


def test_quiet_hours_need_both_ends():
    import datetime

    with pytest.raises(ValidationError) as excinfo:
        _valid(quiet_hours_start=datetime.time(21)).full_clean()
    assert "quiet_hours_end" in excinfo.value.message_dict


def test_database_refuses_duplicate_employee_id():
    LearnerFactory(employee_id="EMP9")
    with pytest.raises(IntegrityError):
        LearnerFactory(employee_id="EMP9")


def test_database_refuses_duplicate_email_in_any_case():
    LearnerFactory(email="sam@frontline.test")
    with pytest.raises(IntegrityError):
        LearnerFactory(email="SAM@frontline.test")


@pytest.mark.parametrize(
    ("field", "value"),
    [("role", "cashier"), ("preferred_channel", "fax"), ("phone", "12345")],
)
def test_database_checks_choices_and_phone_even_without_validation(field, value):
    with pytest.raises(IntegrityError):
        LearnerFactory(**{field: value})


def test_delivery_address_per_channel():
    learner = LearnerFactory.build(
        email="kim@frontline.test", phone="+15550001111", slack_user_id="U123"
    )
    assert learner.delivery_address("email") == "kim@frontline.test"
    assert learner.delivery_address("sms") == "+15550001111"
    assert learner.delivery_address("slack") == "U123"
    assert learner.delivery_address() == "kim@frontline.test"  # preferred channel


@pytest.mark.parametrize(
    ("overrides", "channel", "reason"),
    [
        ({}, "fax", "unknown_channel"),
        ({"slack_user_id": ""}, "slack", "no_address"),
        ({"phone": ""}, "sms", "no_address"),
        ({"sms_opted_out": True}, "sms", "opted_out"),
    ],
)
def test_delivery_address_raises_a_domain_error_when_unreachable(overrides, channel, reason):
    learner = LearnerFactory.build(**overrides)
    with pytest.raises(ChannelUnavailableError) as excinfo:
        learner.delivery_address(channel)
    assert excinfo.value.extra["reason"] == reason
    assert excinfo.value.status_code == 400


def test_manager_queries():
    # given
    store = CohortFactory(kind=Cohort.Kind.STORE, name="Leeds")
    region = CohortFactory(kind=Cohort.Kind.REGION, name="North")
    new = LearnerFactory(onboarding_completed=False, store=store)
    done = LearnerFactory(onboarding_completed=True, role="manager", region=region)
    LearnerFactory(onboarding_completed=True, phone="", sms_opted_out=False)
    opted_out = LearnerFactory(sms_opted_out=True)
    # then
    assert list(Learner.objects.onboarding().filter(pk__in=[new.pk, done.pk])) == [new]
    assert done in Learner.objects.active()
    assert list(Learner.objects.by_role("manager")) == [done]
    assert list(Learner.objects.in_cohort(store)) == [new]
    assert list(Learner.objects.in_cohort(region)) == [done]
    reachable = Learner.objects.reachable_on("sms")
    assert new in reachable and opted_out not in reachable


def test_full_name_and_quiet_hours_spanning_midnight():
    import datetime

    learner = LearnerFactory.build(
        first_name="Jo",
        last_name="Doe",
        quiet_hours_start=datetime.time(21),
        quiet_hours_end=datetime.time(7),
    )
    assert learner.full_name == "Jo Doe"
    assert learner.in_quiet_hours(datetime.time(23, 30))
    assert learner.in_quiet_hours(datetime.time(6, 59))
    assert not learner.in_quiet_hours(datetime.time(9))


def test_cohort_fields_accept_only_their_kind():
    region = CohortFactory(kind=Cohort.Kind.REGION, name="North")
    with pytest.raises(ValidationError) as excinfo:
        _valid(store=region).full_clean()
    assert "store" in excinfo.value.message_dict
    _valid(region=region).full_clean()
