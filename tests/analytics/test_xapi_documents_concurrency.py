"""Concurrent writers of one document, with real threads against PostgreSQL."""

import pytest

from analytics.models import XapiDocument
from tests.analytics.factories import credential
from tests.analytics.xapi_documents_support import (
    ACTIVITY_ID,
    ACTIVITY_PROFILE,
    STATE,
    DocumentClient,
    state_params,
)
from tests.concurrency import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 8


@pytest.fixture
def issued():
    cred, secret = credential(name="LMS", rate_per_minute=0)
    return cred.key, secret


def _writers(issued, request):
    """WRITERS jobs, each with its own client (and so its own database connection)."""

    def job(n):
        return lambda: request(DocumentClient(*issued), n)

    return [job(n) for n in range(WRITERS)]


def test_concurrent_puts_of_one_state_make_one_document_and_no_errors(issued):
    # when eight clients PUT the same state at the same instant
    results, errors = run_in_threads(
        *_writers(issued, lambda c, n: c.put(STATE, state_params(), {"writer": n}).status_code)
    )
    # then every PUT succeeded and one of them is the document
    assert errors == [None] * WRITERS
    assert results == [204] * WRITERS
    document = XapiDocument.objects.get()
    assert document.content_type == "application/json"
    assert DocumentClient(*issued).get(STATE, state_params()).json()["writer"] in range(WRITERS)


def test_concurrent_if_none_match_creates_exactly_one_document(issued):
    params = {"activityId": ACTIVITY_ID, "profileId": "once"}
    results, errors = run_in_threads(
        *_writers(
            issued,
            lambda c, n: (
                c.put(
                    ACTIVITY_PROFILE, params, {"writer": n}, headers={"If-None-Match": "*"}
                ).status_code
            ),
        )
    )
    assert errors == [None] * WRITERS
    assert sorted(results) == [204] + [412] * (WRITERS - 1)
    assert XapiDocument.objects.count() == 1


def test_concurrent_merges_lose_no_key(issued):
    # when eight clients POST a different key each into the same (absent) document
    results, errors = run_in_threads(
        *_writers(issued, lambda c, n: c.post(STATE, state_params(), {f"k{n}": n}).status_code)
    )
    # then the document holds all eight keys
    assert errors == [None] * WRITERS
    assert results == [204] * WRITERS
    merged = DocumentClient(*issued).get(STATE, state_params()).json()
    assert merged == {f"k{n}": n for n in range(WRITERS)}
    assert XapiDocument.objects.count() == 1


def test_concurrent_if_match_updates_only_one_wins(issued):
    # given a document and its ETag
    client = DocumentClient(*issued)
    params = {"activityId": ACTIVITY_ID, "profileId": "versioned"}
    client.put(ACTIVITY_PROFILE, params, {"version": 0}, headers={"If-None-Match": "*"})
    etag = client.get(ACTIVITY_PROFILE, params)["ETag"]
    # when eight clients replace it with that ETag at once
    results, errors = run_in_threads(
        *_writers(
            issued,
            lambda c, n: (
                c.put(
                    ACTIVITY_PROFILE, params, {"version": n + 1}, headers={"If-Match": etag}
                ).status_code
            ),
        )
    )
    # then exactly one replaced it; the others saw a changed ETag
    assert errors == [None] * WRITERS
    assert sorted(results) == [204] + [412] * (WRITERS - 1)
    assert client.get(ACTIVITY_PROFILE, params).json()["version"] in range(1, WRITERS + 1)


def test_concurrent_2_0_state_puts_without_preconditions_create_once_and_conflict_after(issued):
    # when eight xAPI 2.0 clients PUT the same new State document, none sending If-Match or
    # If-None-Match
    def put(n):
        client = DocumentClient(*issued, version="2.0.0")
        return client.put(STATE, state_params(), {"writer": n}).status_code

    results, errors = run_in_threads(*[lambda n=n: put(n) for n in range(WRITERS)])
    # then one creates it and the others, arriving after it exists, get 409
    assert errors == [None] * WRITERS
    assert sorted(results) == [204] + [409] * (WRITERS - 1)
    assert XapiDocument.objects.count() == 1
