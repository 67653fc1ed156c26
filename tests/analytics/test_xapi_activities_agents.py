"""The Activities and Agents resources: definitions and Person objects from stored statements."""

import pytest

from analytics.models import XapiDocument
from tests.analytics.factories import StatementFactory, credential
from tests.analytics.xapi_documents_support import (
    ACTIVITIES,
    ACTIVITY_ID,
    AGENT,
    AGENTS,
    DocumentClient,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued():
    cred, secret = credential(name="LMS", rate_per_minute=0)
    return cred.key, secret


@pytest.fixture
def docs(issued):
    return DocumentClient(*issued)


def _store(docs, *statements):
    response = docs.request("POST", "/xapi/statements", None, list(statements))
    assert response.status_code == 200, response.content


def _activity(definition, activity_id=ACTIVITY_ID):
    return {"objectType": "Activity", "id": activity_id, "definition": definition}


def test_the_activity_is_returned_as_stored(docs):
    activity = _activity(
        {
            "type": "http://adlnet.gov/expapi/activities/lesson",
            "name": {"en-US": "Returns 101"},
            "moreInfo": "https://lessons.example.com/returns-101",
        }
    )
    _store(docs, StatementFactory(object=activity))
    response = docs.get(ACTIVITIES, {"activityId": ACTIVITY_ID})
    assert response.status_code == 200
    assert response.json() == activity


def test_definitions_from_several_statements_merge_language_by_language(docs):
    # given two statements naming the activity in different languages, the later one
    # also changing its type
    first = _activity({"name": {"en-US": "example meeting"}, "type": "https://t.example/a"})
    second = _activity({"name": {"fr-FR": "réunion"}, "type": "https://t.example/b"})
    _store(docs, StatementFactory(object=first))
    _store(docs, StatementFactory(object=second))
    # when
    definition = docs.get(ACTIVITIES, {"activityId": ACTIVITY_ID}).json()["definition"]
    # then
    assert definition["name"] == {"en-US": "example meeting", "fr-FR": "réunion"}
    assert definition["type"] == "https://t.example/b"


def test_context_activities_contribute_their_definitions(docs):
    parent = _activity({"name": {"en-US": "Returns path"}}, "https://lessons.example.com/path")
    statement = StatementFactory(context={"contextActivities": {"parent": [parent]}})
    _store(docs, statement)
    response = docs.get(ACTIVITIES, {"activityId": parent["id"]})
    assert response.json() == parent


def test_an_unknown_activity_is_returned_with_its_id_only(docs):
    response = docs.get(ACTIVITIES, {"activityId": "https://lessons.example.com/never-seen"})
    assert response.status_code == 200
    assert response.json() == {
        "objectType": "Activity",
        "id": "https://lessons.example.com/never-seen",
    }


def test_only_the_newest_statements_are_scanned(docs, settings):
    settings.XAPI_DEFINITION_SCAN_STATEMENTS = 1
    _store(docs, StatementFactory(object=_activity({"name": {"en-US": "old"}})))
    _store(docs, StatementFactory(object=_activity({"description": {"en-US": "new"}})))
    definition = docs.get(ACTIVITIES, {"activityId": ACTIVITY_ID}).json()["definition"]
    assert definition == {"description": {"en-US": "new"}}


@pytest.mark.parametrize(
    "params", [{}, {"activityId": "no scheme"}, {"activityId": ACTIVITY_ID, "other": "1"}]
)
def test_activities_needs_one_valid_activity_id(docs, params):
    response = docs.get(ACTIVITIES, params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


def test_the_person_lists_the_identifier_and_every_known_name(docs):
    # given the agent acted under two names
    _store(docs, StatementFactory(actor={**AGENT, "name": "Ada"}))
    _store(docs, StatementFactory(actor={**AGENT, "name": "Ada Lovelace"}))
    # when asked for it without a name
    response = docs.get(AGENTS, {"agent": {"mbox": AGENT["mbox"]}})
    # then
    assert response.status_code == 200
    person = response.json()
    assert person["objectType"] == "Person"
    assert person["mbox"] == [AGENT["mbox"]]
    assert sorted(person["name"]) == ["Ada", "Ada Lovelace"]


def test_an_unknown_agent_is_a_person_with_what_was_sent(docs):
    account = {"homePage": "https://hr.example.com", "name": "E1234"}
    response = docs.get(AGENTS, {"agent": {"name": "Grace", "account": account}})
    assert response.json() == {"objectType": "Person", "name": ["Grace"], "account": [account]}


@pytest.mark.parametrize(
    "agent",
    [None, "{broken", {"objectType": "Group", "mbox": "mailto:team@example.com"}, {"name": "x"}],
    ids=["missing", "not-json", "group", "unidentified"],
)
def test_agents_needs_one_valid_agent(docs, agent):
    response = docs.get(AGENTS, {} if agent is None else {"agent": agent})
    assert response.status_code == 400
    assert not XapiDocument.objects.exists()


def test_define_scope_reads_activities_and_agents():
    cred, secret = credential(name="Authoring", scopes=["define"], rate_per_minute=0)
    scoped = DocumentClient(cred.key, secret)
    assert scoped.get(ACTIVITIES, {"activityId": ACTIVITY_ID}).status_code == 200
    assert scoped.get(AGENTS, {"agent": AGENT}).status_code == 200
