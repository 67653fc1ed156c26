"""The safe query console: registered queries run read-only with a timeout, CSV too;
unlisted names, writes, slow queries and people without the permission are refused."""

import csv
import io
import uuid

import pytest
from django import forms
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import reverse

from analytics import console, services
from analytics.console import ConsoleQuery
from analytics.models import QueryRun, Statement
from tests.analytics.factories import StatementFactory

pytestmark = pytest.mark.django_db


def console_url(name=None):
    if name is None:
        return reverse("admin:analytics_queryrun_console")
    return reverse("admin:analytics_queryrun_console_query", kwargs={"name": name})


@pytest.fixture
def console_user(django_user_model):
    user = django_user_model.objects.create_user("analyst", password="pw-123456!", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="run_query_console"))
    return user


@pytest.fixture
def console_client(client, console_user):
    client.force_login(console_user)
    return client


@pytest.fixture
def registered():
    """Register test-only queries for one test."""
    names = []

    def add(**kwargs):
        query = console.register(ConsoleQuery(**kwargs))
        names.append(query.name)
        return query

    yield add
    for name in names:
        console.unregister(name)


def test_a_registered_query_runs_and_is_logged(console_client, console_user):
    # given: three stored statements
    services.statements_store(statements=StatementFactory.build_batch(3))
    # when: the analyst runs "last statements"
    response = console_client.get(console_url("last-statements"), {"limit": 2, "run": "1"})
    # then: the page shows the two newest
    assert response.status_code == 200
    result = response.context["result"]
    newest = list(Statement.objects.order_by("-stored", "-id").values_list("id", flat=True)[:2])
    assert [row[0] for row in result.rows] == newest
    assert result.columns[:3] == ["id", "stored", "timestamp"]
    assert 'data-row-count="2"' in response.content.decode()
    # and the run is in the log
    run = QueryRun.objects.get()
    assert (run.query_name, run.user, run.row_count, run.refused) == (
        "last-statements",
        console_user,
        2,
        False,
    )
    assert run.parameters == {"limit": 2, "verb": ""}


def test_the_index_lists_the_queries(console_client):
    response = console_client.get(console_url())
    assert response.status_code == 200
    page = response.content.decode()
    for query in console.all_queries():
        assert console_url(query.name) in page


def test_the_form_alone_runs_nothing(console_client):
    response = console_client.get(console_url("last-statements"))
    assert response.status_code == 200
    assert response.context["result"] is None
    assert not QueryRun.objects.exists()


def test_csv_download_has_the_same_rows(console_client):
    services.statements_store(statements=StatementFactory.build_batch(2))
    response = console_client.get(console_url("last-statements"), {"format": "csv", "limit": 10})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["id", "stored"]
    assert sorted(row[0] for row in rows[1:]) == sorted(
        str(pk) for pk in Statement.objects.values_list("id", flat=True)
    )
    assert QueryRun.objects.get().row_count == 2


def test_an_unlisted_query_is_refused_and_logged(console_client, console_user):
    response = console_client.get(console_url("drop-everything"), {"run": "1"})
    assert response.status_code == 404
    run = QueryRun.objects.get()
    assert (run.query_name, run.user, run.refused) == ("drop-everything", console_user, True)
    assert "no console query" in run.error


def test_sql_is_never_taken_from_the_request(console_client):
    # Parameters the query does not declare are ignored; there is nothing else to send.
    response = console_client.get(
        console_url("gift-card-liability"), {"run": "1", "sql": "DELETE FROM auth_user"}
    )
    assert response.status_code == 200
    assert QueryRun.objects.get().parameters == {}


def test_a_query_that_writes_fails_read_only_and_changes_nothing(
    console_client, console_user, registered
):
    # given: two test-only queries that try to write (an INSERT, and an UPDATE in a CTE)
    registered(
        name="test-insert",
        title="Test insert",
        description="",
        sql="""
            INSERT INTO {analytics.QueryRun} (query_name, parameters, refused, error, created_at)
            VALUES ('smuggled', '{}', false, '', now()) RETURNING id
        """,
    )
    registered(
        name="test-update",
        title="Test update",
        description="",
        sql="""
            WITH changed AS (UPDATE {auth.User} SET first_name = 'pwned' RETURNING id)
            SELECT COUNT(*) FROM changed
        """,
    )
    for name in ("test-insert", "test-update"):
        # when: they are run
        response = console_client.get(console_url(name), {"run": "1"})
        # then: the database refuses with its read-only error
        assert response.status_code == 400
        error = response.context["outcome"].error
        assert error.code == "read_only"
        assert "read-only transaction" in error.message
        assert 'data-error-code="read_only"' in response.content.decode()
    # and nothing changed
    assert not QueryRun.objects.filter(query_name="smuggled").exists()
    console_user.refresh_from_db()
    assert console_user.first_name == ""
    # and both attempts are logged as refused, so the connection is writable again
    logged = QueryRun.objects.filter(query_name__startswith="test-").order_by("query_name")
    assert [(r.query_name, r.refused) for r in logged] == [
        ("test-insert", True),
        ("test-update", True),
    ]
    assert all(r.error.startswith("read_only:") for r in logged)


def test_the_transaction_is_read_only_even_inside_an_outer_transaction(registered):
    # given: work already done in the caller's transaction (the test's own)
    QueryRun.objects.create(query_name="before")
    query = registered(
        name="test-write",
        title="t",
        description="",
        sql="DELETE FROM {analytics.QueryRun}",
    )
    # when/then: the query is refused
    with pytest.raises(console.ReadOnlyViolationError):
        console.run_query(query, {})
    # and the caller's transaction is neither read-only nor slowed by the timeout afterwards
    with connection.cursor() as cursor:
        cursor.execute("SHOW transaction_read_only")
        assert cursor.fetchone()[0] == "off"
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
    QueryRun.objects.create(query_name="after")
    assert QueryRun.objects.count() == 2


class SleepForm(forms.Form):
    seconds = forms.FloatField(min_value=0, max_value=60)


def test_a_slow_query_is_cancelled_by_the_statement_timeout(console_client, registered, settings):
    settings.ANALYTICS_CONSOLE_STATEMENT_TIMEOUT_MS = 200
    registered(
        name="test-sleep",
        title="Sleep",
        description="",
        form=SleepForm,
        sql="SELECT pg_sleep(%(seconds)s) AS slept",
    )
    response = console_client.get(console_url("test-sleep"), {"seconds": "5", "run": "1"})
    assert response.status_code == 400
    error = response.context["outcome"].error
    assert error.code == "timeout"
    assert "statement timeout" in error.message
    run = QueryRun.objects.get(query_name="test-sleep")
    assert run.error.startswith("timeout:") and not run.refused


def test_rows_are_capped(console_client, settings):
    settings.ANALYTICS_CONSOLE_MAX_ROWS = 2
    services.statements_store(statements=StatementFactory.build_batch(3))
    response = console_client.get(console_url("last-statements"), {"limit": 100, "run": "1"})
    result = response.context["result"]
    assert (result.row_count, result.truncated) == (2, True)
    assert 'data-truncated="true"' in response.content.decode()


def test_bad_parameters_are_a_400_with_field_errors_and_run_nothing(console_client):
    response = console_client.get(console_url("last-statements"), {"limit": "lots", "run": "1"})
    assert response.status_code == 400
    assert "limit" in response.context["form"].errors
    assert not QueryRun.objects.exists()
    response = console_client.get(console_url("statement-json"), {"statement_id": "x", "run": "1"})
    assert response.status_code == 400
    assert "statement_id" in response.context["form"].errors


def test_staff_without_the_permission_get_403(client, staff_user):
    client.force_login(staff_user)
    assert client.get(console_url()).status_code == 403
    assert client.get(console_url("last-statements"), {"run": "1"}).status_code == 403
    run = QueryRun.objects.get()
    assert (run.query_name, run.refused, run.error) == (
        "last-statements",
        True,
        "permission denied",
    )


def test_non_staff_are_sent_to_the_login(client, user):
    client.force_login(user)
    for url in (console_url(), console_url("last-statements")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    assert not QueryRun.objects.exists()


def test_anonymous_are_sent_to_the_login(client):
    response = client.get(console_url("last-statements"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_more_than_one_statement_cannot_be_registered():
    with pytest.raises(ValueError, match="one statement"):
        ConsoleQuery(name="x", title="x", description="", sql="SELECT 1; DELETE FROM auth_user")


REQUIRED = {
    "statement-json": {"statement_id": str(uuid.uuid4())},
    "learners-without-completion": {"lesson": "1"},
}


@pytest.mark.parametrize("query", console.all_queries(), ids=lambda q: q.name)
def test_every_registered_query_runs_on_postgresql(console_client, query):
    form = query.form()
    data = {name: field.initial for name, field in form.fields.items() if field.initial}
    data.update(REQUIRED.get(query.name, {}))
    response = console_client.get(console_url(query.name), {**data, "run": "1"})
    assert response.status_code == 200, response.context["outcome"].error
    assert response.context["result"].columns
