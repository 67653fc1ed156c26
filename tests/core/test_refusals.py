"""
Which refusal a well-formed request gets (core.api.exceptions, core.api.fields,
core.api.filters, core.api.schema): 400 only for what the schema rules out; 404 for an id
or slug of nothing; 409 for something that exists already; 422 for a rule the schema
cannot state. The schema states the rules serializers check on their own.
"""

from __future__ import annotations

import pytest

from tests.learners.conftest import grant as grant
from tests.learners.conftest import learner_client as learner_client
from tests.learners.factories import LearnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        return APIClient().get("/api/schema/?format=json").json()


def _request_schema(schema, name):
    return schema["components"]["schemas"][name]["properties"]


def test_an_unknown_id_in_a_list_filter_matches_nothing(api_client, staff_user, grant):
    LearnerFactory()
    api_client.force_authenticate(grant(staff_user, "assessments.view_assessmentresult"))
    response = api_client.get("/api/v1/assessment-results/", {"learner": 987_654})
    assert response.status_code == 200 and response.json()["count"] == 0
    # A value that is not an id at all is still malformed.
    assert api_client.get("/api/v1/assessment-results/", {"learner": "x"}).status_code == 400


def test_an_id_of_nothing_in_a_body_is_a_404_naming_the_field(api_client, staff_user, grant):
    api_client.force_authenticate(grant(staff_user, "delivery.add_consentrecord"))
    response = api_client.post(
        "/api/v1/consents/",
        {"channel": "sms", "opted_out": True, "learner": 987_654},
        format="json",
    )
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "not_found"
    assert body["details"] == {"field": "learner", "value": "987654"}
    assert body["message"] == "learner: no learner with id 987654."


def test_without_the_permission_another_learners_id_is_refused_before_any_lookup(
    learner_client,
):
    # 403 for an id that exists and for one that does not: the door tells nothing.
    other = LearnerFactory()
    for learner_id in (other.pk, 987_654):
        response = learner_client.post(
            "/api/v1/consents/",
            {"channel": "sms", "opted_out": True, "learner": learner_id},
            format="json",
        )
        assert response.status_code == 403


def test_something_that_exists_already_is_a_409(api_client, staff_user, grant):
    api_client.force_authenticate(grant(staff_user, "lessons.add_topic"))
    body = {"slug": "tills", "title": "Tills"}
    assert api_client.post("/api/v1/topics/", body, format="json").status_code == 201
    again = api_client.post("/api/v1/topics/", body, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "already_exists" and "slug" in again.json()["errors"]


def test_a_duplicate_across_fields_is_a_409_too(api_client, staff_user, grant):
    api_client.force_authenticate(grant(staff_user, "learners.add_cohort"))
    body = {"kind": "store", "name": "Leeds"}
    assert api_client.post("/api/v1/cohorts/", body, format="json").status_code == 201
    again = api_client.post("/api/v1/cohorts/", body, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_exists"


def test_rule_errors_mixed_with_malformed_fields_stay_a_400(api_client, staff_user, grant):
    api_client.force_authenticate(grant(staff_user, "learners.add_learner"))
    response = api_client.post(
        "/api/v1/learners/",
        {
            "employee_id": "EMP9",
            "first_name": "A",
            "last_name": "B",
            "email": "not-an-email",
            "role": "associate",
            "preferred_channel": "sms",
        },
        format="json",
    )
    assert response.status_code == 400 and "email" in response.json()["errors"]


def test_the_schema_documents_422_beside_400(schema):
    responses = schema["paths"]["/api/v1/learners/"]["post"]["responses"]
    assert {"400", "404", "409", "422"} <= set(responses)


def test_the_schema_states_what_serializers_refuse(schema):
    learner = _request_schema(schema, "LearnerRequest")
    assert "format" not in learner["email"] and learner["email"]["pattern"].startswith("^")
    assert learner["first_name"]["pattern"] == r"[^\s\u001c-\u001f\u0085]"
    assert learner["time_zone"] == {"$ref": "#/components/schemas/TimeZoneEnum"}
    assert "Europe/London" in schema["components"]["schemas"]["TimeZoneEnum"]["enum"]
    returns = _request_schema(schema, "ReturnListCreateInputRequest")
    assert returns["items"]["minItems"] == 1
    card = _request_schema(schema, "GiftCardCreateInputRequest")
    assert card["currency"]["allOf"] == [{"$ref": "#/components/schemas/CurrencyEnum"}]
    currencies = schema["components"]["schemas"]["CurrencyEnum"]["enum"]
    assert currencies == ["USD", "EUR", "GBP", "CAD", "JPY", "KWD"]
    bulk = _request_schema(schema, "GiftCardBulkCreateInputRequest")
    assert bulk["count"]["maximum"] == 10_000
    assert bulk["prefix"]["pattern"] == "^[A-Za-z0-9]{1,10}$"


@pytest.mark.parametrize(
    ("amount", "valid"),
    [("25.00", True), ("0.001", True), ("0", False), ("0.000", False), ("-1", False), (".", False)],
)
def test_the_amount_pattern_admits_positive_amounts_only(schema, amount, valid):
    import re

    pattern = _request_schema(schema, "GiftCardCreateInputRequest")["amount"]["pattern"]
    assert bool(re.search(pattern, amount)) is valid
