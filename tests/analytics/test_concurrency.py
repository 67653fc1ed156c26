"""Concurrent writers of one statement id, and 'a 200 means committed', on real PostgreSQL."""

import uuid

import psycopg
import pytest
from django.db import connection

from analytics.models import Statement
from tests.analytics.conftest import XapiClient
from tests.analytics.factories import StatementFactory
from tests.concurrency import run_in_threads

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("ingest_path")]


def _race(client: XapiClient, bodies):
    """PUT each body from its own thread at the same instant; the status codes in order."""
    statuses, errors = run_in_threads(
        *[lambda body=body: client.put(body["id"], body).status_code for body in bodies]
    )
    assert errors == [None] * len(bodies)
    return statuses


def test_racing_puts_of_one_id_with_different_content_store_one_and_refuse_the_other(xapi):
    statement = StatementFactory()
    other = dict(statement, verb={"id": "http://adlnet.gov/expapi/verbs/failed"})
    for _ in range(5):
        statement["id"] = other["id"] = str(uuid.uuid4())
        statuses = _race(xapi, [statement, other])
        assert sorted(statuses) == [204, 409]
        stored = Statement.objects.get(pk=statement["id"])
        winner = statement if statuses[0] == 204 else other
        assert stored.verb_id == winner["verb"]["id"]


def test_racing_identical_puts_both_succeed_and_store_one_row(xapi):
    statement = StatementFactory()
    assert _race(xapi, [statement, dict(statement), dict(statement)]) == [204, 204, 204]
    assert Statement.objects.filter(pk=statement["id"]).count() == 1


def test_a_200_means_another_connection_already_sees_the_statement(xapi):
    batch = StatementFactory.build_batch(5)
    assert xapi.post(batch).status_code == 200
    params = connection.get_connection_params()
    with psycopg.connect(
        **{k: v for k, v in params.items() if k in ("dbname", "user", "host", "port", "password")}
    ) as other:
        count = other.execute(
            "SELECT count(*) FROM analytics_statement WHERE id = ANY(%s::uuid[])",
            ([s["id"] for s in batch],),
        ).fetchone()[0]
    assert count == 5


def test_autocommit_path_batch_with_a_conflicting_id_stores_none(xapi):
    # given a stored statement (outside any transaction: the single-INSERT path)
    stored = StatementFactory()
    assert xapi.post(stored).status_code == 200
    # when a batch of new statements also carries a changed copy of it
    fresh = StatementFactory.build_batch(3)
    changed = dict(stored, result={"success": False})
    response = xapi.post([*fresh, changed])
    # then 409 and none of the new ones were written
    assert response.status_code == 409
    assert not Statement.objects.filter(pk__in=[s["id"] for s in fresh]).exists()
    # and the same batch with an identical copy goes through, storing only the new ones
    assert xapi.post([*fresh, dict(stored)]).status_code == 200
    assert Statement.objects.count() == 4
