import pytest

from learners.models import Learner
from tests.learners.factories import CohortFactory, LearnerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/learners/"


def test_anonymous_calls_are_401(api_client):
    assert api_client.get(URL).status_code == 401
    assert api_client.get("/api/v1/me/").status_code == 401


def test_staff_without_the_model_permission_is_403(api_client, staff_user):
    api_client.force_authenticate(staff_user)
    assert api_client.get(URL).status_code == 403
    assert api_client.post(URL, {}, format="json").status_code == 403


def test_a_learner_account_cannot_use_the_staff_api(learner_client):
    assert learner_client.get(URL).status_code == 403
    assert learner_client.get(f"{URL}{learner_client.learner.pk}/").status_code == 403


def test_staff_with_view_permission_lists_filters_and_searches(api_client, staff_user, grant):
    # given
    store = CohortFactory(name="Leeds")
    LearnerFactory(role="manager", last_name="Hopper", store=store)
    LearnerFactory(role="sales_associate", preferred_channel="sms", last_name="Turing")
    api_client.force_authenticate(grant(staff_user, "learners.view_learner"))
    # when / then
    assert api_client.get(URL).json()["count"] == 2
    assert [r["last_name"] for r in api_client.get(URL, {"role": "manager"}).json()["results"]] == [
        "Hopper"
    ]
    assert api_client.get(URL, {"preferred_channel": "sms"}).json()["count"] == 1
    assert api_client.get(URL, {"store": store.pk}).json()["count"] == 1
    assert api_client.get(URL, {"search": "turi"}).json()["results"][0]["last_name"] == "Turing"
    # view only: no create
    assert api_client.post(URL, {}, format="json").status_code == 403


def _payload(**overrides):
    data = {
        "employee_id": "EMP500",
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": "Grace@Frontline.test",
        "role": "manager",
        "preferred_channel": "email",
    }
    data.update(overrides)
    return data


def test_staff_creates_updates_and_deletes_a_learner(api_client, staff_user, grant):
    user = grant(
        staff_user,
        "learners.add_learner",
        "learners.change_learner",
        "learners.delete_learner",
        "learners.view_learner",
    )
    api_client.force_authenticate(user)
    created = api_client.post(URL, _payload(), format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["email"] == "grace@frontline.test" and body["full_name"] == "Grace Hopper"
    detail = f"{URL}{body['id']}/"
    patched = api_client.patch(detail, {"phone": "+447700900123"}, format="json")
    assert patched.status_code == 200 and patched.json()["phone"] == "+447700900123"
    assert api_client.delete(detail).status_code == 204
    assert not Learner.objects.exists()


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"email": "nope"}, "email"),
        ({"role": "wizard"}, "role"),
        ({"preferred_channel": "fax"}, "preferred_channel"),
        ({"phone": "0770 090"}, "phone"),
        ({"time_zone": "Nowhere/Land"}, "time_zone"),
    ],
)
def test_invalid_learner_fields_are_400_with_field_errors(
    api_client, staff_user, grant, override, field
):
    api_client.force_authenticate(grant(staff_user, "learners.add_learner"))
    response = api_client.post(URL, _payload(**override), format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Learner.objects.exists()


def test_duplicate_email_or_employee_id_is_409_not_500(api_client, staff_user, grant):
    LearnerFactory(employee_id="EMP500", email="taken@frontline.test")
    api_client.force_authenticate(grant(staff_user, "learners.add_learner"))
    response = api_client.post(URL, _payload(), format="json")
    assert response.status_code == 409 and "employee_id" in response.json()["errors"]
    assert response.json()["code"] == "already_exists"
    response = api_client.post(
        URL, _payload(employee_id="EMP501", email="TAKEN@frontline.test"), format="json"
    )
    assert response.status_code == 409 and "email" in response.json()["errors"]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"preferred_channel": "sms", "phone": ""}, "phone"),
        ({"preferred_channel": "slack", "slack_user_id": ""}, "slack_user_id"),
        ({"quiet_hours_start": "22:00"}, "quiet_hours_end"),
    ],
)
def test_a_rule_across_learner_fields_is_422(api_client, staff_user, grant, override, field):
    api_client.force_authenticate(grant(staff_user, "learners.add_learner"))
    response = api_client.post(URL, _payload(**override), format="json")
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "unprocessable" and field in response.json()["errors"]
    assert not Learner.objects.exists()


def test_filtering_by_an_unknown_cohort_lists_nothing(api_client, staff_user, grant):
    LearnerFactory()
    api_client.force_authenticate(grant(staff_user, "learners.view_learner"))
    assert api_client.get(URL).json()["count"] == 1
    response = api_client.get(URL, {"store": 999_999, "manager": 999_999})
    assert response.status_code == 200 and response.json()["count"] == 0


def test_me_shows_and_updates_the_callers_own_profile(learner_client):
    me = learner_client.get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["employee_id"] == "EMP-ME"
    response = learner_client.patch(
        "/api/v1/me/", {"preferred_channel": "sms", "role": "manager"}, format="json"
    )
    assert response.status_code == 200
    learner = Learner.objects.get(pk=learner_client.learner.pk)
    assert learner.preferred_channel == "sms"
    assert learner.role == "sales_associate"  # read-only to the learner
    bad = learner_client.patch("/api/v1/me/", {"phone": "12"}, format="json")
    assert bad.status_code == 400 and "phone" in bad.json()["errors"]


def test_me_without_a_learner_profile_is_404(authed_client):
    assert authed_client.get("/api/v1/me/").status_code == 404


def test_me_answers_without_the_trailing_slash_too(learner_client):
    response = learner_client.get("/api/v1/me")
    assert response.status_code == 200 and response.json()["employee_id"] == "EMP-ME"
