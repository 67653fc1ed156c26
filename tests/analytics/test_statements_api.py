"""The Statement Resource through HTTP: version header, POST/PUT/GET, conflicts, atomicity."""

import json
import uuid

import pytest

from analytics.models import Statement
from analytics.validation import parse_timestamp
from tests.analytics.factories import AgentFactory, StatementFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("ingest_path")]


# --- version header ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_missing_version_header_is_400_and_the_response_still_names_the_version(xapi, method):
    # given a request without X-Experience-API-Version
    headers = {"X-Experience-API-Version": None}
    # when
    if method == "post":
        response = xapi.post(StatementFactory(), headers=headers)
    else:
        response = xapi.get(headers=headers)
    # then
    assert response.status_code == 400
    assert response.json()["code"] == "unsupported_version"
    assert response["X-Experience-API-Version"] == "1.0.3"
    assert Statement.objects.count() == 0


@pytest.mark.parametrize("version", ["0.95", "2.1.0", "1.1", "3.0", "one"])
def test_unsupported_version_is_400(xapi, version):
    response = xapi.post(StatementFactory(), headers={"X-Experience-API-Version": version})
    assert response.status_code == 400
    assert "not supported" in response.json()["message"]


@pytest.mark.parametrize("version", ["1.0", "1.0.0", "1.0.3", "1.0.9"])
def test_any_1_0_x_version_is_accepted(xapi, version):
    response = xapi.post(StatementFactory(), headers={"X-Experience-API-Version": version})
    assert response.status_code == 200
    assert response["X-Experience-API-Version"] == "1.0.3"


def test_about_needs_no_version_header_and_lists_the_versions(client):
    response = client.get("/xapi/about")
    assert response.status_code == 200
    assert response.json()["version"] == ["2.0.0", "1.0.3"]
    assert response["X-Experience-API-Version"] == "1.0.3"


# --- POST -------------------------------------------------------------------------------


def test_post_one_statement_stores_it_and_returns_its_id(xapi, xapi_credential):
    # given
    statement = StatementFactory()
    # when
    response = xapi.post(statement)
    # then it is stored with stored/authority/version filled in
    assert response.status_code == 200
    assert response.json() == [statement["id"]]
    stored = Statement.objects.get(pk=statement["id"])
    assert stored.data["actor"] == statement["actor"]
    assert stored.data["version"] == "1.0.0"
    assert stored.data["authority"]["account"]["name"] == xapi_credential[0].key
    assert stored.credential_id == xapi_credential[0].pk


def test_a_new_batch_is_stored_by_one_insert_or_by_copy(xapi, ingest_path):
    # given
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # when
    with CaptureQueriesContext(connection) as queries:
        response = xapi.post([StatementFactory() for _ in range(3)])
    # then the rows went in the way the batch size picks, stamped by the database's clock
    assert response.status_code == 200
    sql = [q["sql"] for q in queries]
    if ingest_path == "copy":
        # three round trips: BEGIN with the probe and the stamp, COPY, COMMIT
        writes = [s.split()[0] for s in sql if "analytics_statement" in s or s == "COMMIT"]
        assert writes == ["BEGIN;", "COPY", "COMMIT"]
    else:
        # one autocommit statement, no transaction around it
        [insert] = [s for s in sql if "analytics_statement" in s]
        assert "INSERT INTO" in insert
        assert not any(s.startswith(("BEGIN", "SAVEPOINT")) for s in sql)
    assert Statement.objects.count() == 3


def test_post_generates_missing_ids_and_keeps_order(xapi):
    # given a batch, the middle one without an id
    first, second, third = StatementFactory(), StatementFactory(), StatementFactory()
    del second["id"]
    # when
    response = xapi.post([first, second, third])
    # then
    ids = response.json()
    assert response.status_code == 200
    assert ids[0] == first["id"] and ids[2] == third["id"]
    assert uuid.UUID(ids[1])
    assert Statement.objects.filter(pk__in=ids).count() == 3


def test_authority_sent_by_the_client_is_replaced_by_the_credentials(xapi, xapi_credential):
    statement = StatementFactory(authority=AgentFactory(mbox="mailto:forger@example.com"))
    xapi.post(statement)
    authority = Statement.objects.get(pk=statement["id"]).data["authority"]
    assert authority["account"]["name"] == xapi_credential[0].key


def test_a_batch_with_one_bad_statement_stores_none(xapi):
    # given 49 good statements and one without a verb id
    batch = StatementFactory.build_batch(50)
    batch[37]["verb"] = {"display": {"en-US": "did"}}
    # when
    response = xapi.post(batch)
    # then nothing is stored and the reason names the statement
    assert response.status_code == 400
    assert "statements[37].verb.id" in response.json()["message"]
    assert Statement.objects.count() == 0


def test_a_batch_repeating_an_id_is_refused(xapi):
    statement = StatementFactory()
    other = StatementFactory(id=statement["id"])
    response = xapi.post([statement, other])
    assert response.status_code == 400
    assert Statement.objects.count() == 0


def test_invalid_json_is_400_not_500(xapi):
    response = xapi.client.post(
        "/xapi/statements", data="{not json", content_type="application/json", **xapi.headers
    )
    assert response.status_code == 400


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_number_constants_are_400(xapi, constant):
    # given: a score Python's json would read as a float but JSON does not allow
    statement = StatementFactory()
    statement["result"] = {"score": {"raw": "SENTINEL"}}
    body = json.dumps(statement).replace('"SENTINEL"', constant)
    # when
    response = xapi.client.post(
        "/xapi/statements", data=body, content_type="application/json", **xapi.headers
    )
    # then
    assert response.status_code == 400
    assert Statement.objects.count() == 0


def test_integers_beyond_64_bits_are_stored_exactly(xapi):
    # given
    statement = StatementFactory()
    statement["context"] = {"extensions": {"https://example.com/ext/big": 2**70}}
    # when
    response = xapi.post(statement)
    # then
    assert response.status_code == 200
    stored = Statement.objects.get(pk=response.json()[0])
    assert stored.data["context"]["extensions"]["https://example.com/ext/big"] == 2**70


def test_wrong_content_type_is_400(xapi):
    response = xapi.client.post(
        "/xapi/statements", data="x", content_type="text/plain", **xapi.headers
    )
    assert response.status_code == 400


def test_post_with_parameters_is_400(xapi):
    response = xapi.post(StatementFactory(), path="/xapi/statements?statementId=x")
    assert response.status_code == 400


# --- conflicts --------------------------------------------------------------------------


def test_reposting_the_same_statement_is_accepted_once(xapi):
    # given a stored statement
    statement = StatementFactory()
    xapi.post(statement)
    # when it comes again with a different authority and version (supplied by the store)
    again = dict(statement, version="1.0.3", authority=AgentFactory())
    response = xapi.post([again])
    # then it is accepted and not duplicated
    assert response.status_code == 200
    assert Statement.objects.count() == 1


def test_identical_content_in_another_timezone_format_is_not_a_conflict(xapi):
    statement = StatementFactory(timestamp="2026-11-01T09:30:00Z")
    xapi.post(statement)
    response = xapi.post(dict(statement, timestamp="2026-11-01T11:30:00.000+02:00"))
    assert response.status_code == 200


def test_same_id_with_different_content_is_409_and_rolls_back_the_batch(xapi):
    # given a stored statement
    statement = StatementFactory()
    xapi.post(statement)
    # when a batch carries a new statement and a changed copy of the stored one
    changed = dict(statement, verb={"id": "http://adlnet.gov/expapi/verbs/failed"})
    fresh = StatementFactory()
    response = xapi.post([fresh, changed])
    # then 409, and the new one was not stored either
    assert response.status_code == 409
    assert response.json()["code"] == "statement_conflict"
    assert not Statement.objects.filter(pk=fresh["id"]).exists()
    assert Statement.objects.get(pk=statement["id"]).data["verb"] == statement["verb"]


def test_put_of_an_existing_id_with_different_content_is_409(xapi):
    statement = StatementFactory()
    assert xapi.put(statement["id"], statement).status_code == 204
    assert xapi.put(statement["id"], statement).status_code == 204
    changed = dict(statement, result={"success": False})
    assert xapi.put(statement["id"], changed).status_code == 409


# --- PUT --------------------------------------------------------------------------------


def test_put_stores_under_the_statement_id_and_answers_204(xapi):
    statement = StatementFactory()
    statement_id = statement.pop("id")
    response = xapi.put(statement_id, statement)
    assert response.status_code == 204
    assert response["X-Experience-API-Version"] == "1.0.3"
    assert Statement.objects.filter(pk=statement_id).exists()


def test_put_without_statement_id_or_with_a_mismatched_id_is_400(xapi):
    statement = StatementFactory()
    no_param = xapi.client.put(
        "/xapi/statements", data="{}", content_type="application/json", **xapi.headers
    )
    assert no_param.status_code == 400
    assert xapi.put(str(uuid.uuid4()), statement).status_code == 400
    assert Statement.objects.count() == 0


# --- GET one ----------------------------------------------------------------------------


def test_get_by_statement_id_returns_the_stored_statement_with_headers(xapi):
    statement = StatementFactory()
    xapi.post(statement)
    response = xapi.get({"statementId": statement["id"]})
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == statement["id"]
    assert body["stored"] and body["authority"]
    assert response["Last-Modified"]
    assert response["X-Experience-API-Consistent-Through"]


def test_get_unknown_statement_is_404(xapi):
    response = xapi.get({"statementId": str(uuid.uuid4())})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("params", "headers", "status"),
    [
        ({"statementId": "8f0c1f0e-5a4b-4c3d-9e2f-1a2b3c4d5e6f"}, None, 404),
        ({"statementId": "8f0c1f0e-5a4b-4c3d-9e2f-1a2b3c4d5e6f", "verb": "urn:v"}, None, 400),
        ({"since": "yesterday"}, None, 400),
        ({}, {"X-Experience-API-Version": None}, 400),
        ({}, {"Authorization": "Basic bm9ib2R5Om5vdGhpbmc="}, 401),
    ],
)
def test_every_get_answer_carries_consistent_through_errors_included(xapi, params, headers, status):
    # when a GET of the Statement Resource fails
    response = xapi.get(params, headers=headers)
    # then the answer still says up to when the store is consistent
    assert response.status_code == status
    assert parse_timestamp(response["X-Experience-API-Consistent-Through"], "header")


def test_get_by_statement_id_with_other_filters_is_400(xapi):
    response = xapi.get({"statementId": str(uuid.uuid4()), "verb": "http://x.example/v"})
    assert response.status_code == 400


def test_get_with_an_unknown_parameter_is_400(xapi):
    assert xapi.get({"colour": "blue"}).status_code == 400


def test_format_ids_reduces_to_identifiers(xapi):
    statement = StatementFactory()
    xapi.post(statement)
    body = xapi.get({"statementId": statement["id"], "format": "ids"}).json()
    assert body["actor"] == {"objectType": "Agent", "mbox": statement["actor"]["mbox"]}
    assert body["verb"] == {"id": statement["verb"]["id"]}
    assert body["object"] == {"id": statement["object"]["id"]}


def test_format_ids_reduces_a_substatement_s_activity_to_its_id(xapi):
    # given a statement whose object is a SubStatement about an Activity
    inner = StatementFactory()
    del inner["id"], inner["timestamp"]
    statement = StatementFactory(object={"objectType": "SubStatement", **inner})
    xapi.post(statement)
    # when
    body = xapi.get({"statementId": statement["id"], "format": "ids"}).json()
    # then
    assert body["object"]["objectType"] == "SubStatement"
    assert body["object"]["object"] == {"id": inner["object"]["id"]}
    assert body["object"]["actor"] == {"objectType": "Agent", "mbox": inner["actor"]["mbox"]}


def test_format_canonical_keeps_one_language_per_map(xapi):
    statement = StatementFactory(
        verb={"id": "http://x.example/v", "display": {"en-US": "did", "fr": "a fait"}}
    )
    xapi.post(statement)
    body = xapi.get(
        {"statementId": statement["id"], "format": "canonical"}, headers={"Accept-Language": "fr"}
    ).json()
    assert body["verb"]["display"] == {"fr": "a fait"}
    exact = xapi.get({"statementId": statement["id"], "format": "exact"}).json()
    assert exact["verb"]["display"] == {"en-US": "did", "fr": "a fait"}


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("en-GB", {"en-GB": "attended"}),
        ("en-US", {"en-US": "attended (US)"}),
        ("en", {"en": "attended (any English)"}),
        ("en-AU", {"en": "attended (any English)"}),
        ("de, en-GB;q=0.5", {"en-GB": "attended"}),
        ("de", {"en": "attended (any English)"}),
    ],
)
def test_format_canonical_prefers_the_exact_language_tag(xapi, accept_language, expected):
    # given a display in English, US English and British English (en first)
    display = {"en": "attended (any English)", "en-US": "attended (US)", "en-GB": "attended"}
    statement = StatementFactory(verb={"id": "http://x.example/v", "display": display})
    xapi.post(statement)
    # when
    body = xapi.get(
        {"statementId": statement["id"], "format": "canonical"},
        headers={"Accept-Language": accept_language},
    ).json()
    # then
    assert body["verb"]["display"] == expected


# --- HEAD -------------------------------------------------------------------------------

_SAME_HEADERS = ("Content-Type", "Content-Length", "X-Experience-API-Version", "Last-Modified")


def _raw_view_response(view, path, headers):
    """The view's own answer, before any test client or server strips a HEAD body."""
    from django.test import RequestFactory

    return view(RequestFactory().head(path, **headers))


def test_head_of_statements_answers_the_get_headers_without_a_body(xapi):
    # given a stored statement
    from analytics.views import StatementsView

    statement = StatementFactory()
    xapi.post(statement)
    query = f"/xapi/statements?statementId={statement['id']}"
    get = xapi.client.get(query, **xapi.headers)
    # when
    head = _raw_view_response(StatementsView.as_view(), query, xapi.headers)
    # then
    assert head.status_code == 200
    assert head.content == b""
    assert {h: head[h] for h in _SAME_HEADERS} == {h: get[h] for h in _SAME_HEADERS}
    assert int(head["Content-Length"]) == len(get.content) > 0
    assert head["X-Experience-API-Consistent-Through"]


def test_head_of_a_statement_list_and_its_errors_carry_consistent_through(xapi):
    from analytics.views import StatementsView

    view = StatementsView.as_view()
    listing = _raw_view_response(view, "/xapi/statements?limit=1", xapi.headers)
    missing = _raw_view_response(view, f"/xapi/statements?statementId={uuid.uuid4()}", xapi.headers)
    assert (listing.status_code, missing.status_code) == (200, 404)
    assert listing.content == missing.content == b""
    assert listing["X-Experience-API-Consistent-Through"]
    assert missing["X-Experience-API-Consistent-Through"]


def test_head_of_about_answers_the_get_headers_without_a_body(client):
    from analytics.views import AboutView

    get = client.get("/xapi/about")
    head = _raw_view_response(AboutView.as_view(), "/xapi/about", {})
    assert head.status_code == 200
    assert head.content == b""
    assert int(head["Content-Length"]) == len(get.content)
    assert head["X-Experience-API-Version"] == "1.0.3"
