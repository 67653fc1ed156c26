"""The State, Activity Profile and Agent Profile resources through HTTP."""

import json
from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from analytics.models import DocumentKind, XapiDocument
from tests.analytics.factories import credential
from tests.analytics.xapi_documents_support import (
    ACTIVITY_ID,
    ACTIVITY_PROFILE,
    AGENT,
    AGENT_PROFILE,
    STATE,
    DocumentClient,
    sha1,
    state_params,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def docs():
    cred, secret = credential(name="LMS", rate_per_minute=0)
    return DocumentClient(cred.key, secret)


def client_with(*scopes, version="1.0.3"):
    cred, secret = credential(name="Scoped", scopes=list(scopes), rate_per_minute=0)
    return DocumentClient(cred.key, secret, version=version)


# --- State: one document ----------------------------------------------------------------


def test_put_then_get_returns_the_document_with_its_etag_and_last_modified(docs):
    # given
    body = b'{"page": 7}'
    # when
    put = docs.put(STATE, state_params(), body, content_type="application/json")
    got = docs.get(STATE, state_params())
    # then
    assert put.status_code == 204
    assert put["X-Experience-API-Version"] == "1.0.3"
    assert got.status_code == 200
    assert got.content == body
    assert got["Content-Type"] == "application/json"
    assert got["ETag"] == f'"{sha1(body)}"'
    assert got["Last-Modified"].endswith("GMT")
    assert XapiDocument.objects.get().kind == DocumentKind.STATE


def test_a_state_document_is_replaced_by_put_without_concurrency_headers(docs):
    docs.put(STATE, state_params(), {"page": 1})
    response = docs.put(STATE, state_params(), {"page": 2})
    assert response.status_code == 204
    assert docs.get(STATE, state_params()).json() == {"page": 2}
    assert XapiDocument.objects.count() == 1


def test_a_state_put_without_headers_is_one_upsert(docs):
    # given
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    docs.put(STATE, state_params(), {"page": 1})
    # when
    with CaptureQueriesContext(connection) as queries:
        response = docs.put(STATE, state_params(), {"page": 2})
    # then one statement touched the documents: INSERT … ON CONFLICT DO UPDATE
    assert response.status_code == 204
    touching = [q["sql"] for q in queries if "analytics_xapidocument" in q["sql"]]
    assert len(touching) == 1
    assert touching[0].startswith("INSERT") and "ON CONFLICT" in touching[0]


def test_the_agent_is_identified_by_its_identifier_not_its_name(docs):
    docs.put(STATE, state_params(), {"page": 3})
    renamed = {"objectType": "Agent", "name": "Ada L.", "mbox": AGENT["mbox"]}
    assert docs.get(STATE, state_params(agent=renamed)).json() == {"page": 3}


def test_registrations_keep_separate_documents_under_one_state_id(docs):
    # given the same stateId without and with two registrations
    first, second = "2c1a4a24-1111-4a5b-9c1d-000000000001", "2c1a4a24-1111-4a5b-9c1d-000000000002"
    docs.put(STATE, state_params(), {"r": "none"})
    docs.put(STATE, state_params(registration=first), {"r": 1})
    docs.put(STATE, state_params(registration=second.upper()), {"r": 2})
    # then each is its own document; the registration is compared as a UUID
    assert docs.get(STATE, state_params()).json() == {"r": "none"}
    assert docs.get(STATE, state_params(registration=first)).json() == {"r": 1}
    assert docs.get(STATE, state_params(registration=second)).json() == {"r": 2}
    assert XapiDocument.objects.count() == 3


def test_get_of_a_missing_document_is_404_json(docs):
    response = docs.get(STATE, state_params(stateId="nothing-here"))
    assert response.status_code == 404
    assert response.json()["code"] == "document_not_found"
    assert response["X-Experience-API-Version"] == "1.0.3"


def test_binary_documents_keep_their_bytes_and_content_type(docs):
    # given bytes that are not UTF-8 and hold a NUL
    body = bytes(range(256)) * 4
    # when
    put = docs.put(STATE, state_params(), body, content_type="image/png")
    got = docs.get(STATE, state_params())
    # then
    assert put.status_code == 204
    assert got.content == body
    assert got["Content-Type"] == "image/png"
    assert got["ETag"] == f'"{sha1(body)}"'


def test_put_of_invalid_json_as_application_json_is_400(docs):
    response = docs.put(STATE, state_params(), b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert not XapiDocument.objects.exists()


# --- State: ids and bulk delete ---------------------------------------------------------


def test_get_without_state_id_lists_the_ids_of_the_context(docs):
    # given two states of this agent and activity, one of another agent
    docs.put(STATE, state_params(stateId="a"), {"x": 1})
    docs.put(STATE, state_params(stateId="b"), {"x": 2})
    other = {"mbox": "mailto:grace@example.com"}
    docs.put(STATE, state_params(stateId="c", agent=other), {"x": 3})
    # when
    response = docs.get(STATE, state_params(stateId=None))
    # then
    assert response.status_code == 200
    assert sorted(response.json()) == ["a", "b"]


def test_ids_without_registration_span_every_registration_and_with_one_only_it(docs):
    registration = "6f0e2c9a-3b7d-4e1a-8f2b-1c2d3e4f5a6b"
    docs.put(STATE, state_params(stateId="plain"), {"x": 1})
    docs.put(STATE, state_params(stateId="registered", registration=registration), {"x": 2})
    everything = docs.get(STATE, state_params(stateId=None)).json()
    only = docs.get(STATE, state_params(stateId=None, registration=registration)).json()
    assert sorted(everything) == ["plain", "registered"]
    assert only == ["registered"]


def test_since_lists_only_documents_stored_after_it(docs):
    # given one old document and one new
    docs.put(STATE, state_params(stateId="old"), {"x": 1})
    XapiDocument.objects.filter(document_id="old").update(
        updated_at=timezone.now() - timedelta(hours=2)
    )
    docs.put(STATE, state_params(stateId="new"), {"x": 2})
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    # when
    response = docs.get(STATE, state_params(stateId=None, since=since))
    # then
    assert response.json() == ["new"]


def test_delete_one_state_leaves_the_others(docs):
    docs.put(STATE, state_params(stateId="a"), {"x": 1})
    docs.put(STATE, state_params(stateId="b"), {"x": 2})
    response = docs.delete(STATE, state_params(stateId="a"))
    assert response.status_code == 204
    assert list(XapiDocument.objects.values_list("document_id", flat=True)) == ["b"]


def test_delete_without_state_id_deletes_the_whole_context_only(docs):
    # given two states of the context, one of another activity
    registration = "6f0e2c9a-3b7d-4e1a-8f2b-1c2d3e4f5a6b"
    docs.put(STATE, state_params(stateId="a"), {"x": 1})
    docs.put(STATE, state_params(stateId="b", registration=registration), {"x": 2})
    docs.put(STATE, state_params(stateId="c", activityId=ACTIVITY_ID + "/other"), {"x": 3})
    # when
    response = docs.delete(STATE, state_params(stateId=None))
    # then
    assert response.status_code == 204
    assert list(XapiDocument.objects.values_list("document_id", flat=True)) == ["c"]


def test_delete_without_state_id_but_with_a_registration_deletes_only_that_registration(docs):
    registration = "6f0e2c9a-3b7d-4e1a-8f2b-1c2d3e4f5a6b"
    docs.put(STATE, state_params(stateId="a"), {"x": 1})
    docs.put(STATE, state_params(stateId="b", registration=registration), {"x": 2})
    docs.delete(STATE, state_params(stateId=None, registration=registration))
    assert list(XapiDocument.objects.values_list("document_id", flat=True)) == ["a"]


# --- merge (POST) -----------------------------------------------------------------------


def test_post_merges_top_level_keys_and_replaces_nested_objects_whole(docs):
    # given
    docs.put(STATE, state_params(), {"a": 1, "nested": {"x": 1, "y": 2}})
    # when
    response = docs.post(STATE, state_params(), {"b": 2, "nested": {"z": 3}})
    # then
    assert response.status_code == 204
    got = docs.get(STATE, state_params())
    assert got.json() == {"a": 1, "b": 2, "nested": {"z": 3}}
    assert got["ETag"] == f'"{sha1(got.content)}"'
    assert response["ETag"] == got["ETag"]


def test_post_onto_nothing_stores_the_document(docs):
    response = docs.post(STATE, state_params(), {"first": True})
    assert response.status_code == 204
    assert docs.get(STATE, state_params()).json() == {"first": True}


@pytest.mark.parametrize(
    ("stored", "stored_type", "posted", "posted_type"),
    [
        (b'{"a": 1}', "application/json", b"abcdefg", "text/plain"),
        (b"/ asdf /", "application/octet-stream", b'{"a": 2}', "application/json"),
        (b'{"a": 1}', "application/json", b"{broken", "application/json"),
        (b'{"a": 1}', "application/json", b"[1, 2]", "application/json"),
        (b"[1, 2]", "application/json", b'{"a": 2}', "application/json"),
    ],
    ids=["text-onto-json", "json-onto-binary", "invalid-json", "array-posted", "array-stored"],
)
def test_post_merges_only_a_json_object_into_a_json_object(
    docs, stored, stored_type, posted, posted_type
):
    # given
    docs.put(STATE, state_params(), stored, content_type=stored_type)
    # when
    response = docs.post(STATE, state_params(), posted, content_type=posted_type)
    # then 400 and the stored document is unchanged
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_document"
    assert docs.get(STATE, state_params()).content == stored


# --- bad parameters ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "POST", "GET", "DELETE"])
@pytest.mark.parametrize(
    "params",
    [
        state_params(activityId=None),
        state_params(activityId="not an iri"),
        state_params(agent=None),
        state_params(agent="{not json"),
        state_params(agent={"mbox": "mailto:a@example.com", "openid": "https://id.example/a"}),
        state_params(agent={"objectType": "Group", "member": [AGENT]}),
        state_params(registration="not-a-uuid"),
        state_params(unexpected="1"),
    ],
    ids=[
        "no-activity",
        "activity-not-iri",
        "no-agent",
        "agent-not-json",
        "agent-two-ifis",
        "anonymous-group",
        "registration",
        "unknown-parameter",
    ],
)
def test_bad_state_parameters_are_400_with_a_reason(docs, method, params):
    response = docs.request(method, STATE, params, {"x": 1})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request"
    assert body["message"]
    assert not XapiDocument.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "limit"),
    [
        ({"activityId": ACTIVITY_ID + "/" + "a" * 1000}, "activityId"),
        ({"stateId": "s" * 601}, "stateId"),
    ],
)
def test_names_too_long_for_the_index_are_400(docs, overrides, limit):
    response = docs.put(STATE, state_params(**overrides), {"x": 1})
    assert response.status_code == 400
    assert limit in response.json()["message"]


def test_a_content_type_longer_than_the_column_is_400(docs):
    response = docs.put(STATE, state_params(), b"x", content_type="text/" + "x" * 300)
    assert response.status_code == 400
    assert not XapiDocument.objects.exists()


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_writes_need_the_state_id(docs, method):
    response = docs.request(method, STATE, state_params(stateId=None), {"x": 1})
    assert response.status_code == 400
    assert "stateId" in response.json()["message"]


@pytest.mark.parametrize("since", ["yesterday", "2026-13-45T00:00:00Z"])
def test_since_must_be_a_timestamp(docs, since):
    response = docs.get(STATE, state_params(stateId=None, since=since))
    assert response.status_code == 400


def test_since_with_a_state_id_is_400(docs):
    response = docs.get(STATE, state_params(since="2026-01-01T00:00:00Z"))
    assert response.status_code == 400


def test_version_header_is_required(docs):
    response = docs.get(STATE, state_params(), headers={"X-Experience-API-Version": None})
    assert response.status_code == 400
    assert response.json()["code"] == "unsupported_version"
    assert response["X-Experience-API-Version"] == "1.0.3"


def test_without_credentials_it_is_401(docs):
    response = docs.get(STATE, state_params(), headers={"Authorization": None})
    assert response.status_code == 401


# --- concurrency headers ----------------------------------------------------------------


NEW = {"If-None-Match": "*"}


def _profile(profile_id="settings"):
    return {"activityId": ACTIVITY_ID, "profileId": profile_id}


def test_put_onto_an_existing_profile_without_headers_is_409_and_changes_nothing(docs):
    docs.put(ACTIVITY_PROFILE, _profile(), {"v": 1}, headers=NEW)
    response = docs.put(ACTIVITY_PROFILE, _profile(), {"v": 2})
    assert response.status_code == 409
    assert response.json()["message"]
    assert docs.get(ACTIVITY_PROFILE, _profile()).json() == {"v": 1}


def test_put_of_a_new_profile_without_headers_is_400_asking_for_if_none_match(docs):
    response = docs.put(AGENT_PROFILE, {"agent": AGENT, "profileId": "p"}, {"v": 1})
    assert response.status_code == 400
    assert response.json()["code"] == "precondition_required"
    assert "If-None-Match" in response.json()["message"]
    assert not XapiDocument.objects.exists()


def test_if_none_match_star_creates_only_when_absent(docs):
    first = docs.put(ACTIVITY_PROFILE, _profile(), {"v": 1}, headers={"If-None-Match": "*"})
    second = docs.put(ACTIVITY_PROFILE, _profile(), {"v": 2}, headers={"If-None-Match": "*"})
    assert first.status_code == 204
    assert second.status_code == 412
    assert second.json()["code"] == "precondition_failed"
    assert docs.get(ACTIVITY_PROFILE, _profile()).json() == {"v": 1}


def test_if_match_with_the_current_etag_replaces_the_document(docs):
    docs.put(ACTIVITY_PROFILE, _profile(), {"v": 1}, headers=NEW)
    etag = docs.get(ACTIVITY_PROFILE, _profile())["ETag"]
    response = docs.put(ACTIVITY_PROFILE, _profile(), {"v": 2}, headers={"If-Match": etag})
    assert response.status_code == 204
    assert docs.get(ACTIVITY_PROFILE, _profile()).json() == {"v": 2}


@pytest.mark.parametrize("if_match", [f'"{"0" * 40}"', 'W/"abc"', '"a", "b"'])
def test_if_match_with_another_etag_is_412_and_changes_nothing(docs, if_match):
    docs.put(ACTIVITY_PROFILE, _profile(), {"v": 1}, headers=NEW)
    response = docs.put(ACTIVITY_PROFILE, _profile(), {"v": 2}, headers={"If-Match": if_match})
    assert response.status_code == 412
    assert docs.get(ACTIVITY_PROFILE, _profile()).json() == {"v": 1}


def test_if_match_on_a_missing_document_is_412(docs):
    response = docs.put(ACTIVITY_PROFILE, _profile(), {"v": 1}, headers={"If-Match": "*"})
    assert response.status_code == 412
    assert not XapiDocument.objects.exists()


def test_if_match_star_replaces_an_existing_document(docs):
    docs.put(ACTIVITY_PROFILE, _profile(), {"v": 1}, headers=NEW)
    response = docs.put(ACTIVITY_PROFILE, _profile(), {"v": 2}, headers={"If-Match": "*"})
    assert response.status_code == 204


def test_if_match_is_honoured_on_state_post_and_delete(docs):
    # given
    docs.put(STATE, state_params(), {"v": 1})
    etag = docs.get(STATE, state_params())["ETag"]
    stale = f'"{"f" * 40}"'
    # when / then: a stale ETag changes nothing
    assert (
        docs.post(STATE, state_params(), {"w": 2}, headers={"If-Match": stale}).status_code == 412
    )
    assert docs.delete(STATE, state_params(), headers={"If-Match": stale}).status_code == 412
    assert docs.get(STATE, state_params()).json() == {"v": 1}
    # and the current one works
    assert docs.delete(STATE, state_params(), headers={"If-Match": etag}).status_code == 204
    assert not XapiDocument.objects.exists()


def test_get_with_if_none_match_of_the_current_etag_is_304(docs):
    docs.put(STATE, state_params(), {"v": 1})
    etag = docs.get(STATE, state_params())["ETag"]
    response = docs.get(STATE, state_params(), headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response["ETag"] == etag


# --- profiles ---------------------------------------------------------------------------


def test_activity_profile_lifecycle_and_ids(docs):
    docs.put(ACTIVITY_PROFILE, _profile("one"), {"v": 1}, headers=NEW)
    docs.put(ACTIVITY_PROFILE, _profile("two"), b"plain", content_type="text/plain", headers=NEW)
    ids = docs.get(ACTIVITY_PROFILE, {"activityId": ACTIVITY_ID})
    assert sorted(ids.json()) == ["one", "two"]
    assert docs.get(ACTIVITY_PROFILE, _profile("two")).content == b"plain"
    assert docs.delete(ACTIVITY_PROFILE, _profile("one")).status_code == 204
    assert docs.get(ACTIVITY_PROFILE, {"activityId": ACTIVITY_ID}).json() == ["two"]


def test_agent_profile_lifecycle_and_ids(docs):
    params = {"agent": AGENT, "profileId": "preferences"}
    assert docs.put(AGENT_PROFILE, params, {"channel": "sms"}, headers=NEW).status_code == 204
    assert docs.post(AGENT_PROFILE, params, {"lang": "fr"}).status_code == 204
    assert docs.get(AGENT_PROFILE, params).json() == {"channel": "sms", "lang": "fr"}
    assert docs.get(AGENT_PROFILE, {"agent": AGENT}).json() == ["preferences"]
    assert docs.delete(AGENT_PROFILE, params).status_code == 204
    assert docs.get(AGENT_PROFILE, params).status_code == 404


def test_delete_of_a_profile_needs_its_id(docs):
    response = docs.delete(AGENT_PROFILE, {"agent": AGENT})
    assert response.status_code == 400


def test_profiles_and_states_with_the_same_ids_are_different_documents(docs):
    docs.put(STATE, state_params(stateId="x"), {"kind": "state"})
    docs.put(ACTIVITY_PROFILE, _profile("x"), {"kind": "activity profile"}, headers=NEW)
    docs.put(
        AGENT_PROFILE, {"agent": AGENT, "profileId": "x"}, {"kind": "agent profile"}, headers=NEW
    )
    assert XapiDocument.objects.count() == 3
    assert docs.get(STATE, state_params(stateId="x")).json() == {"kind": "state"}


# --- HEAD, size -------------------------------------------------------------------------


def test_head_answers_like_get_without_the_body(docs):
    docs.put(STATE, state_params(), b"0123456789", content_type="text/plain")
    got = docs.get(STATE, state_params())
    head = docs.head(STATE, state_params())
    assert head.status_code == 200
    assert head.content == b""
    for header in ("ETag", "Last-Modified", "Content-Type", "X-Experience-API-Version"):
        assert head[header] == got[header]
    assert head["Content-Length"] == "10"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (STATE, state_params(stateId=None)),
        (ACTIVITY_PROFILE, {"activityId": ACTIVITY_ID}),
        (AGENT_PROFILE, {"agent": AGENT}),
        ("/xapi/activities", {"activityId": ACTIVITY_ID}),
        ("/xapi/agents", {"agent": AGENT}),
    ],
)
def test_head_works_on_every_resource(docs, path, params):
    response = docs.head(path, params)
    assert response.status_code == 200
    assert response.content == b""
    assert response["X-Experience-API-Version"] == "1.0.3"


def test_a_document_beyond_the_size_limit_is_413_and_not_stored(docs, settings):
    settings.XAPI_DOCUMENT_MAX_BYTES = 1000
    at_limit = docs.put(STATE, state_params(stateId="fits"), b"x" * 1000, content_type="text/plain")
    beyond = docs.put(STATE, state_params(stateId="big"), b"x" * 1001, content_type="text/plain")
    merged = docs.post(STATE, state_params(stateId="big"), {"x": "y" * 1000})
    assert at_limit.status_code == 204
    assert beyond.status_code == 413
    assert beyond.json()["code"] == "document_too_large"
    assert merged.status_code == 413
    assert list(XapiDocument.objects.values_list("document_id", flat=True)) == ["fits"]


# --- scopes -----------------------------------------------------------------------------


def test_the_state_scope_reaches_state_and_not_profiles():
    scoped = client_with("state")
    assert scoped.put(STATE, state_params(), {"v": 1}).status_code == 204
    assert scoped.get(STATE, state_params()).status_code == 200
    assert scoped.put(ACTIVITY_PROFILE, _profile(), {"v": 1}).status_code == 403
    assert scoped.get(AGENT_PROFILE, {"agent": AGENT}).status_code == 403


def test_the_profile_scope_reaches_profiles_and_not_state():
    scoped = client_with("profile")
    assert scoped.put(ACTIVITY_PROFILE, _profile(), {"v": 1}, headers=NEW).status_code == 204
    assert (
        scoped.put(
            AGENT_PROFILE, {"agent": AGENT, "profileId": "p"}, {"v": 1}, headers=NEW
        ).status_code
        == 204
    )
    assert scoped.get(STATE, state_params()).status_code == 403


def test_all_read_reads_documents_but_does_not_write_them(docs):
    docs.put(STATE, state_params(), {"v": 1})
    reader = client_with("all/read")
    assert reader.get(STATE, state_params()).json() == {"v": 1}
    assert reader.head(STATE, state_params()).status_code == 200
    assert reader.put(STATE, state_params(), {"v": 2}).status_code == 403
    assert reader.post(STATE, state_params(), {"v": 2}).status_code == 403
    assert reader.delete(STATE, state_params()).status_code == 403
    assert docs.get(STATE, state_params()).json() == {"v": 1}


def test_a_client_reading_only_its_own_statements_reads_no_documents(docs):
    docs.put(STATE, state_params(), {"v": 1})
    mine = client_with("statements/write", "statements/read/mine")
    for path, params in [
        (STATE, state_params()),
        (ACTIVITY_PROFILE, {"activityId": ACTIVITY_ID}),
        (AGENT_PROFILE, {"agent": AGENT}),
        ("/xapi/activities", {"activityId": ACTIVITY_ID}),
        ("/xapi/agents", {"agent": AGENT}),
    ]:
        response = mine.get(path, params)
        assert response.status_code == 403, path
        assert response.json()["code"] == "permission_denied"


def test_documents_are_shared_by_every_client_with_the_scope(docs):
    docs.put(STATE, state_params(), {"saved_by": "first client"})
    assert client_with("state").get(STATE, state_params()).json() == {"saved_by": "first client"}


# --- the database -----------------------------------------------------------------------


def test_the_database_refuses_a_second_document_with_the_same_name(docs):
    docs.put(STATE, state_params(), {"v": 1})
    existing = XapiDocument.objects.get()
    existing.pk = None
    with pytest.raises(IntegrityError):
        existing.save()


def test_the_stored_agent_is_kept_for_the_admin(docs):
    docs.put(STATE, state_params(), {"v": 1})
    document = XapiDocument.objects.get()
    assert document.agent == AGENT
    assert document.agent_key == "mbox:mailto:ada@example.com"
    assert json.loads(bytes(document.content)) == {"v": 1}


# --- admin ------------------------------------------------------------------------------


def test_the_admin_lists_documents_read_only_filtered_by_kind_and_searched(
    docs, client, django_user_model
):
    # given a state and an agent profile
    docs.put(STATE, state_params(stateId="bookmark"), {"v": 1})
    docs.put(
        AGENT_PROFILE,
        {"agent": {"mbox": "mailto:grace@example.com"}, "profileId": "p"},
        b"x",
        headers=NEW,
    )
    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-1!")
    client.force_login(admin_user)
    url = "/admin/analytics/xapidocument/"
    # when
    states = client.get(url, {"kind__exact": "state"})
    searched = client.get(url, {"q": "grace"})
    document = XapiDocument.objects.get(kind=DocumentKind.STATE)
    detail = client.get(f"{url}{document.pk}/change/")
    # then
    assert states.status_code == 200
    assert b"bookmark" in states.content and b"mailto:grace" not in states.content
    assert b"mailto:grace" in searched.content and b"bookmark" not in searched.content
    assert detail.status_code == 200
    assert b"&quot;v&quot;: 1" in detail.content or b'"v": 1' in detail.content
    assert client.post(f"{url}add/", {}).status_code == 403
