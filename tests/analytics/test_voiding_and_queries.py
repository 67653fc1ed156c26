"""Voiding, the query filters of the Statement Resource, and paging with `more`."""

import json
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from analytics.models import Statement
from tests.analytics.factories import ActivityFactory, AgentFactory, StatementFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("ingest_path")]

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def voiding(target_id, **kwargs):
    return StatementFactory(
        verb={"id": VOIDED, "display": {"en-US": "voided"}},
        object={"objectType": "StatementRef", "id": target_id},
        **kwargs,
    )


def ids(response):
    assert response.status_code == 200, response.content
    return [s["id"] for s in response.json()["statements"]]


# --- voiding ----------------------------------------------------------------------------


def test_voided_statement_is_hidden_and_found_by_voided_statement_id(xapi):
    # given a statement and its voiding statement
    target = StatementFactory()
    xapi.post(target)
    void = voiding(target["id"])
    assert xapi.post(void).status_code == 200
    # then the target is gone from queries and statementId, but voidedStatementId finds it
    assert target["id"] not in ids(xapi.get())
    assert void["id"] in ids(xapi.get())
    assert xapi.get({"statementId": target["id"]}).status_code == 404
    voided = xapi.get({"voidedStatementId": target["id"]})
    assert voided.status_code == 200 and voided.json()["id"] == target["id"]


def test_voided_statement_id_of_a_live_statement_is_404(xapi):
    target = StatementFactory()
    xapi.post(target)
    assert xapi.get({"voidedStatementId": target["id"]}).status_code == 404


def test_voiding_needs_a_statement_ref(xapi):
    bad = StatementFactory(verb={"id": VOIDED})
    response = xapi.post(bad)
    assert response.status_code == 400
    assert "StatementRef" in response.json()["message"]


def test_a_voiding_statement_cannot_be_voided(xapi):
    # given a voided statement
    target = StatementFactory()
    void = voiding(target["id"])
    xapi.post([target, void])
    # when someone voids the voiding statement
    response = xapi.post(voiding(void["id"]))
    # then it is refused and the target stays voided
    assert response.status_code == 400
    assert "cannot be voided" in response.json()["message"]
    assert Statement.objects.get(pk=target["id"]).voided
    assert Statement.objects.count() == 2


def test_voiding_inside_the_same_batch_voids_the_target(xapi):
    target = StatementFactory()
    xapi.post([target, voiding(target["id"])])
    assert Statement.objects.get(pk=target["id"]).voided


def test_a_statement_arriving_after_its_voiding_statement_is_stored_voided(xapi):
    target = StatementFactory()
    xapi.post(voiding(target["id"]))
    xapi.post(target)
    assert Statement.objects.get(pk=target["id"]).voided
    assert xapi.get({"voidedStatementId": target["id"]}).status_code == 200


# --- filters ----------------------------------------------------------------------------


def test_agent_filter_matches_actor_and_agent_object_only(xapi):
    alice = AgentFactory(mbox="mailto:alice@example.com")
    by_alice = StatementFactory(actor=alice)
    about_alice = StatementFactory(object=dict(alice))
    instructed = StatementFactory(context={"instructor": alice})
    other = StatementFactory()
    xapi.post([by_alice, about_alice, instructed, other])
    agent = json.dumps({"mbox": "mailto:alice@example.com"})
    assert set(ids(xapi.get({"agent": agent}))) == {by_alice["id"], about_alice["id"]}
    related = set(ids(xapi.get({"agent": agent, "related_agents": "true"})))
    assert related == {by_alice["id"], about_alice["id"], instructed["id"]}


def test_agent_filter_by_account(xapi):
    account = {"homePage": "https://lms.example.com", "name": "u-1"}
    mine = StatementFactory(actor={"account": account})
    xapi.post([mine, StatementFactory()])
    assert ids(xapi.get({"agent": json.dumps({"account": account})})) == [mine["id"]]


def test_bad_agent_parameter_is_400(xapi):
    assert xapi.get({"agent": "{not json"}).status_code == 400
    assert xapi.get({"agent": json.dumps({"name": "no ifi"})}).status_code == 400


def test_verb_filter(xapi):
    passed = StatementFactory(verb={"id": "http://adlnet.gov/expapi/verbs/passed"})
    xapi.post([passed, StatementFactory()])
    assert ids(xapi.get({"verb": "http://adlnet.gov/expapi/verbs/passed"})) == [passed["id"]]


def test_activity_filter_and_related_activities(xapi):
    course = ActivityFactory(id="https://lessons.example.com/course/1")
    direct = StatementFactory(object=course)
    in_context = StatementFactory(context={"contextActivities": {"parent": {"id": course["id"]}}})
    in_sub = StatementFactory(
        object={
            "objectType": "SubStatement",
            "actor": AgentFactory(),
            "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
            "object": {"id": course["id"]},
        }
    )
    xapi.post([direct, in_context, in_sub, StatementFactory()])
    assert ids(xapi.get({"activity": course["id"]})) == [direct["id"]]
    related = set(ids(xapi.get({"activity": course["id"], "related_activities": "true"})))
    assert related == {direct["id"], in_context["id"], in_sub["id"]}


def test_single_context_activity_is_stored_as_an_array(xapi):
    statement = StatementFactory(
        context={"contextActivities": {"parent": {"id": "https://lessons.example.com/c"}}}
    )
    xapi.post(statement)
    stored = xapi.get({"statementId": statement["id"]}).json()
    assert stored["context"]["contextActivities"]["parent"] == [
        {"id": "https://lessons.example.com/c"}
    ]


def test_registration_filter(xapi):
    registration = str(uuid.uuid4())
    mine = StatementFactory(context={"registration": registration})
    xapi.post([mine, StatementFactory(context={"registration": str(uuid.uuid4())})])
    assert ids(xapi.get({"registration": registration.upper()})) == [mine["id"]]
    assert xapi.get({"registration": "nope"}).status_code == 400


def test_since_and_until_filter_on_stored(xapi):
    first = StatementFactory()
    xapi.post(first)
    first_stored = Statement.objects.get(pk=first["id"]).stored
    second = StatementFactory()
    xapi.post(second)
    assert ids(xapi.get({"since": first_stored.isoformat()})) == [second["id"]]
    assert ids(xapi.get({"until": first_stored.isoformat()})) == [first["id"]]
    assert xapi.get({"since": "yesterday"}).status_code == 400


def test_ascending_and_limit(xapi):
    posted = []
    for _ in range(3):
        statement = StatementFactory()
        xapi.post(statement)
        posted.append(statement["id"])
    assert ids(xapi.get()) == posted[::-1]
    assert ids(xapi.get({"ascending": "true"})) == posted
    assert ids(xapi.get({"limit": "2"})) == posted[::-1][:2]
    assert xapi.get({"limit": "-1"}).status_code == 400
    assert xapi.get({"ascending": "maybe"}).status_code == 400


# --- paging -----------------------------------------------------------------------------


def test_more_link_pages_through_everything_once_even_while_statements_arrive(xapi):
    # given 7 statements stored in one batch (same stored time: the cursor tie-breaks on id)
    batch = StatementFactory.build_batch(7)
    xapi.post(batch)
    seen = []
    response = xapi.get({"limit": "3", "verb": batch[0]["verb"]["id"]})
    while True:
        body = response.json()
        seen += [s["id"] for s in body["statements"]]
        # a statement arriving mid-paging does not shift the pages
        xapi.post(StatementFactory())
        if not body["more"]:
            break
        more = urlsplit(body["more"])
        assert more.path == "/xapi/statements"
        assert parse_qs(more.query)["verb"] == [batch[0]["verb"]["id"]]
        response = xapi.get({k: v[0] for k, v in parse_qs(more.query).items()})
    assert sorted(seen) == sorted(s["id"] for s in batch)
    assert len(seen) == len(set(seen)) == 7


def test_last_page_has_an_empty_more(xapi):
    xapi.post(StatementFactory.build_batch(2))
    assert xapi.get({"limit": "2"}).json()["more"] == ""


def test_a_forged_cursor_is_400(xapi):
    assert xapi.get({"cursor": "garbage!"}).status_code == 400


def test_filters_also_return_statements_that_target_a_matching_statement(xapi):
    # given a statement about a course, a statement referring to it, and an unrelated one
    course = ActivityFactory(id="https://lessons.example.com/course/9")
    about_course = StatementFactory(object=course)
    comment = StatementFactory(
        verb={"id": "http://adlnet.gov/expapi/verbs/commented"},
        object={"objectType": "StatementRef", "id": about_course["id"]},
    )
    unrelated_ref = StatementFactory(
        verb={"id": "http://adlnet.gov/expapi/verbs/commented"},
        object={"objectType": "StatementRef", "id": str(uuid.uuid4())},
    )
    xapi.post([about_course, comment, unrelated_ref, StatementFactory()])
    # when filtering on the course
    found = set(ids(xapi.get({"activity": course["id"]})))
    # then the referring statement meets the filter through its target
    assert found == {about_course["id"], comment["id"]}


def test_the_voiding_statement_of_a_matching_statement_is_returned_by_its_filter(xapi):
    course = ActivityFactory(id="https://lessons.example.com/course/10")
    target = StatementFactory(object=course)
    void = voiding(target["id"])
    xapi.post([target, void])
    assert ids(xapi.get({"activity": course["id"]})) == [void["id"]]
