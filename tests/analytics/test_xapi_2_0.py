"""xAPI 2.0 (IEEE 9274.1.1) beside 1.0.3: the request's X-Experience-API-Version picks the
rules statements are validated and answered by, and each version reads the other's."""

import json
import uuid
from urllib.parse import urlencode

import pytest

from analytics.models import Statement
from tests.analytics.conftest import XapiClient
from tests.analytics.factories import AgentFactory, StatementFactory
from tests.analytics.xapi_documents_support import STATE, DocumentClient, state_params

pytestmark = pytest.mark.django_db

TYPE = "https://lessons.example.com/activity-types/role/coach"


@pytest.fixture
def xapi2(xapi_credential) -> XapiClient:
    cred, secret = xapi_credential
    return XapiClient(cred.key, secret, version="2.0.0")


def context_agent(**overrides):
    entry = {"objectType": "contextAgent", "agent": AgentFactory(), "relevantTypes": [TYPE]}
    entry.update(overrides)
    return entry


def context_group(**overrides):
    group = {"objectType": "Group", "name": "Team A", "member": [AgentFactory(), AgentFactory()]}
    entry = {"objectType": "contextGroup", "group": group, "relevantTypes": [TYPE]}
    entry.update(overrides)
    return entry


def with_context(**context):
    return StatementFactory(context=context)


# --- version negotiation ----------------------------------------------------------------


@pytest.mark.parametrize("version", ["2.0", "2.0.0", "2.0.7"])
def test_a_2_0_x_version_is_accepted_and_answered_as_2_0_0(xapi, version):
    response = xapi.post(StatementFactory(), headers={"X-Experience-API-Version": version})
    assert response.status_code == 200
    assert response["X-Experience-API-Version"] == "2.0.0"


def test_each_request_is_answered_in_the_version_family_it_asked_for(xapi, xapi2):
    statement = StatementFactory()
    assert xapi2.post(statement).status_code == 200
    # when the same statement is read with each version
    old = xapi.get({"statementId": statement["id"]})
    new = xapi2.get({"statementId": statement["id"]})
    # then
    assert old.status_code == new.status_code == 200
    assert old["X-Experience-API-Version"] == "1.0.3"
    assert new["X-Experience-API-Version"] == "2.0.0"


def test_an_error_to_a_2_0_request_names_2_0_0(xapi2):
    response = xapi2.post({"actor": "nobody"})
    assert response.status_code == 400
    assert response["X-Experience-API-Version"] == "2.0.0"


def test_about_lists_both_versions_and_answers_in_the_one_asked_for(client):
    response = client.get("/xapi/about", HTTP_X_EXPERIENCE_API_VERSION="2.0.0")
    assert response.status_code == 200
    assert response.json()["version"] == ["2.0.0", "1.0.3"]
    assert response["X-Experience-API-Version"] == "2.0.0"


def test_document_resources_answer_in_the_version_asked_for(xapi_credential):
    cred, secret = xapi_credential
    docs = DocumentClient(cred.key, secret, version="2.0")
    response = docs.put(STATE, state_params(), {"page": 3})
    assert response.status_code == 204
    assert response["X-Experience-API-Version"] == "2.0.0"


# --- contextAgents and contextGroups ----------------------------------------------------


def test_2_0_accepts_context_agents_and_groups_and_returns_them(xapi2):
    statement = with_context(contextAgents=[context_agent()], contextGroups=[context_group()])
    assert xapi2.post(statement).status_code == 200
    returned = xapi2.get({"statementId": statement["id"]}).json()
    assert returned["context"]["contextAgents"] == statement["context"]["contextAgents"]
    assert returned["context"]["contextGroups"] == statement["context"]["contextGroups"]


def test_1_0_3_refuses_context_agents(xapi):
    response = xapi.post(with_context(contextAgents=[context_agent()]))
    assert response.status_code == 400
    assert "contextAgents" in response.json()["message"]


def test_2_0_accepts_context_agents_in_a_substatement(xapi2):
    inner = StatementFactory(context={"contextAgents": [context_agent()]})
    del inner["id"]
    statement = StatementFactory(object={"objectType": "SubStatement", **inner})
    assert xapi2.post(statement).status_code == 200


@pytest.mark.parametrize(
    "context",
    [
        {"contextAgents": context_agent()},
        {"contextAgents": [context_agent(objectType="Agent")]},
        {"contextAgents": [context_agent(agent={"key": "not an agent"})]},
        {"contextAgents": [context_agent(relevantTypes=[])]},
        {"contextAgents": [context_agent(relevantTypes=["not an IRI"])]},
        {"contextAgents": [{"objectType": "contextAgent"}]},
        {"contextGroups": [context_group(objectType="contextAgent")]},
        {"contextGroups": [context_group(group=AgentFactory())]},
        {"contextGroups": [context_group(relevantTypes=[])]},
        {"contextGroups": [context_group(relevantTypes="https://example.com/type")]},
    ],
    ids=[
        "not-an-array",
        "agent-object-type",
        "invalid-agent",
        "empty-relevant-types",
        "relevant-type-not-iri",
        "no-agent",
        "group-object-type",
        "group-is-an-agent",
        "group-empty-relevant-types",
        "group-relevant-types-not-array",
    ],
)
def test_2_0_refuses_malformed_context_agents_and_groups(xapi2, context):
    statement = with_context(**context)
    response = xapi2.post(statement)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_statement"
    assert f"statement.context.{next(iter(context))}" in response.json()["message"]
    assert not Statement.objects.filter(pk=statement["id"]).exists()


def test_2_0_refuses_a_malformed_context_agent_in_a_substatement(xapi2):
    inner = StatementFactory(context={"contextAgents": [context_agent(relevantTypes=[])]})
    del inner["id"]
    response = xapi2.post(StatementFactory(object={"objectType": "SubStatement", **inner}))
    assert response.status_code == 400
    assert "statement.object.context.contextAgents[0].relevantTypes" in response.json()["message"]


# --- timestamps -------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["timestamp", "stored"])
def test_2_0_refuses_a_timestamp_without_a_time_zone(xapi, xapi2, field):
    statement = StatementFactory(**{field: "2026-11-01T09:30:00.000"})
    response = xapi2.post(statement)
    assert response.status_code == 400
    assert field in response.json()["message"]
    # while 1.0.3 takes it as UTC
    assert xapi.post(statement).status_code == 200


def test_2_0_refuses_a_substatement_timestamp_without_a_time_zone(xapi2):
    inner = StatementFactory(timestamp="2026-11-01T09:30:00")
    del inner["id"]
    response = xapi2.post(StatementFactory(object={"objectType": "SubStatement", **inner}))
    assert response.status_code == 400
    assert "statement.object.timestamp" in response.json()["message"]


def test_2_0_accepts_an_offset_timestamp(xapi2):
    response = xapi2.post(StatementFactory(timestamp="2026-11-01T09:30:00.601+00:00"))
    assert response.status_code == 200


# --- the version property ---------------------------------------------------------------


def test_2_0_keeps_the_version_a_statement_was_sent_with(xapi2):
    statement = StatementFactory(version="2.0.0")
    assert xapi2.post(statement).status_code == 200
    assert xapi2.get({"statementId": statement["id"]}).json()["version"] == "2.0.0"


@pytest.mark.parametrize(
    ("version", "status"), [("1.0", 200), ("1.0.9", 200), ("2.0.0", 200), ("1.1.0", 400)]
)
def test_2_0_accepts_1_0_x_and_2_0_x_statement_versions(xapi2, version, status):
    response = xapi2.post(StatementFactory(version=version))
    assert response.status_code == status
    if status == 400:
        assert response.json()["code"] == "invalid_statement"
        assert "statement.version" in response.json()["message"]


def test_1_0_3_still_refuses_a_2_0_statement_version(xapi):
    response = xapi.post(StatementFactory(version="2.0.0"))
    assert response.status_code == 400
    assert "version" in response.json()["message"]


def test_a_statement_sent_without_version_is_stored_as_the_requests_version(xapi, xapi2):
    new, old = StatementFactory(), StatementFactory()
    assert xapi2.post(new).status_code == 200
    assert xapi.post(old).status_code == 200
    assert Statement.objects.get(pk=new["id"]).data["version"] == "2.0.0"
    assert Statement.objects.get(pk=old["id"]).data["version"] == "1.0.0"


# --- reading across versions ------------------------------------------------------------


def test_a_2_0_statement_read_with_1_0_3_is_a_valid_1_0_3_statement(xapi, xapi2):
    # given a 2.0 statement with context roles, also in its SubStatement
    inner = StatementFactory(context={"contextGroups": [context_group()]})
    del inner["id"]
    statement = StatementFactory(
        object={"objectType": "SubStatement", **inner},
        context={"contextAgents": [context_agent()], "language": "en-GB"},
    )
    assert xapi2.post(statement).status_code == 200
    # when a 1.0.3 client reads it, alone and in a list
    single = xapi.get({"statementId": statement["id"]}).json()
    listed = xapi.get().json()["statements"][0]
    # then it has no 2.0 property and a 1.0.x version; the rest is as sent
    for returned in (single, listed):
        assert returned["context"] == {"language": "en-GB"}
        assert "context" not in returned["object"]
        assert returned["object"]["verb"] == inner["verb"]
        assert returned["version"] == "1.0.0"
        assert returned["actor"] == statement["actor"]
    # and it is stored, and read by 2.0, as sent
    stored = Statement.objects.get(pk=statement["id"]).data
    assert stored["context"]["contextAgents"] == statement["context"]["contextAgents"]
    again = xapi2.get({"statementId": statement["id"]}).json()
    assert again["context"]["contextAgents"] == statement["context"]["contextAgents"]
    assert again["version"] == "2.0.0"


def test_a_1_0_3_statement_without_a_time_zone_reads_in_2_0_as_utc(xapi, xapi2):
    # given a 1.0.3 statement whose timestamps carry no time zone
    inner = StatementFactory(timestamp="2026-11-01T08:00:00")
    del inner["id"]
    statement = StatementFactory(
        timestamp="2026-11-01T09:30:00.250", object={"objectType": "SubStatement", **inner}
    )
    assert xapi.post(statement).status_code == 200
    # when a 2.0 client reads it
    returned = xapi2.get({"statementId": statement["id"]}).json()
    # then its timestamps say UTC (as 1.0.3 read them), and 1.0.3 still reads them as sent
    assert returned["timestamp"] == "2026-11-01T09:30:00.250Z"
    assert returned["object"]["timestamp"] == "2026-11-01T08:00:00Z"
    assert xapi.get({"statementId": statement["id"]}).json()["timestamp"] == (
        "2026-11-01T09:30:00.250"
    )


# --- the alternate request syntax -------------------------------------------------------


def _alternate(xapi, method, form, **headers):
    path = "/xapi/statements?" + urlencode({"method": method})
    return xapi.client.post(
        path,
        data=urlencode(form),
        content_type="application/x-www-form-urlencoded",
        **{**xapi.headers, **headers},
    )


def test_2_0_has_no_alternate_request_syntax(xapi2):
    statement = StatementFactory()
    statement_id = statement.pop("id")
    form = {"statementId": statement_id, "content": json.dumps(statement)}
    response = _alternate(xapi2, "PUT", form)
    assert response.status_code == 400
    assert "not part of xAPI 2.0" in response.json()["message"]
    assert not Statement.objects.filter(pk=statement_id).exists()


def test_an_alternate_request_naming_2_0_in_its_form_is_refused(xapi):
    statement = StatementFactory()
    statement_id = statement.pop("id")
    form = {
        "statementId": statement_id,
        "content": json.dumps(statement),
        "Authorization": xapi.headers["HTTP_AUTHORIZATION"],
        "X-Experience-API-Version": "2.0.0",
    }
    path = "/xapi/statements?method=PUT"
    response = xapi.client.post(
        path, data=urlencode(form), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert "not part of xAPI 2.0" in response.json()["message"]
    assert not Statement.objects.filter(pk=statement_id).exists()


# --- State concurrency ------------------------------------------------------------------


@pytest.fixture
def docs(xapi_credential):
    cred, secret = xapi_credential
    return {
        version: DocumentClient(cred.key, secret, version=version) for version in ("1.0.3", "2.0.0")
    }


def test_2_0_state_put_without_precondition_headers_creates_but_does_not_overwrite(docs):
    new = docs["2.0.0"]
    # a State document that does not exist is created without If-Match / If-None-Match
    created = new.put(STATE, state_params(), {"page": 1})
    assert created.status_code == 204
    etag = created["ETag"]
    # but one that exists is not overwritten without them
    refused = new.put(STATE, state_params(), {"page": 2})
    assert refused.status_code == 409
    assert refused.json()["message"]
    assert new.get(STATE, state_params()).json() == {"page": 1}
    # with If-Match it is
    assert new.put(STATE, state_params(), {"page": 2}, headers={"If-Match": etag}).status_code == (
        204
    )
    assert new.get(STATE, state_params()).json() == {"page": 2}


def test_2_0_state_put_with_a_stale_etag_is_412(docs):
    new = docs["2.0.0"]
    assert new.put(STATE, state_params(), {"page": 1}).status_code == 204
    response = new.put(STATE, state_params(), {"page": 2}, headers={"If-Match": '"0000"'})
    assert response.status_code == 412
    assert new.get(STATE, state_params()).json() == {"page": 1}


def test_1_0_3_state_put_still_overwrites_without_precondition_headers(docs):
    old = docs["1.0.3"]
    assert old.put(STATE, state_params(), {"page": 1}).status_code == 204
    assert old.put(STATE, state_params(), {"page": 2}).status_code == 204
    assert old.get(STATE, state_params()).json() == {"page": 2}


def test_ids_differ_per_statement(xapi2):
    # a batch in 2.0 takes the same fast path as in 1.0.3 and keeps the order of its ids
    batch = [StatementFactory(id=str(uuid.uuid4())) for _ in range(3)]
    response = xapi2.post(batch)
    assert response.status_code == 200
    assert response.json() == [s["id"] for s in batch]


# --- comparison -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("P1DT12H36M0.1237S", "P1DT12H36M0.12S", True),
        ("PT0.129S", "PT0.12S", True),
        ("PT1.10S", "PT1.1S", True),
        ("PT1.001S", "PT1S", True),
        ("PT0.13S", "PT0.12S", False),
        ("PT1M", "PT2M", False),
    ],
)
def test_durations_compare_to_hundredths_of_a_second(first, second, same):
    from analytics.documents import same_statement

    statement = StatementFactory()
    one = {**statement, "result": {"duration": first}}
    other = {**statement, "result": {"duration": second}}
    assert same_statement(one, other) is same


def test_format_ids_reduces_the_agents_of_context_roles(xapi2):
    statement = with_context(contextAgents=[context_agent()], contextGroups=[context_group()])
    assert xapi2.post(statement).status_code == 200
    context = xapi2.get({"statementId": statement["id"], "format": "ids"}).json()["context"]
    agent = context["contextAgents"][0]
    assert "name" not in agent["agent"]
    assert agent["agent"]["mbox"] == statement["context"]["contextAgents"][0]["agent"]["mbox"]
    assert agent["relevantTypes"] == [TYPE]
    group = context["contextGroups"][0]["group"]
    assert "name" not in group
    assert [set(member) for member in group["member"]] == [{"objectType", "mbox"}] * 2
