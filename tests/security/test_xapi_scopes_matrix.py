"""xAPI credential scopes: who may store, read and void which statements."""

import importlib
import uuid

import pytest
from django.apps import apps

from analytics import auth
from analytics.models import Statement, XapiCredential
from analytics.services import record_statement
from tests.analytics.conftest import XapiClient
from tests.analytics.factories import StatementFactory, credential

pytestmark = pytest.mark.django_db

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


@pytest.fixture(autouse=True)
def _forget_credentials():
    auth.forget()
    yield
    auth.forget()


def client_with(*scopes: str) -> XapiClient:
    cred, secret = credential(name="+".join(scopes), scopes=list(scopes), rate_per_minute=0)
    return XapiClient(cred.key, secret)


def voiding(target_id) -> dict:
    return StatementFactory(
        verb={"id": VOIDED, "display": {"en-US": "voided"}},
        object={"objectType": "StatementRef", "id": str(target_id)},
    )


def stored_by(client: XapiClient) -> str:
    statement = StatementFactory()
    assert client.post(statement).status_code == 200
    return statement["id"]


def ids_of(response) -> set[str]:
    return {s["id"] for s in response.json()["statements"]}


def test_write_only_credentials_store_but_cannot_read():
    writer = client_with("statements/write")
    own = stored_by(writer)
    assert writer.get().status_code == 403
    assert writer.get({"statementId": own}).status_code == 403


def test_read_only_credentials_cannot_store():
    reader = client_with("statements/read")
    statement = StatementFactory()
    assert reader.post(statement).status_code == 403
    assert reader.put(statement["id"], statement).status_code == 403
    assert not Statement.objects.exists()


def test_read_mine_sees_only_the_statements_it_stored():
    mine = client_with("statements/write", "statements/read/mine")
    other = client_with("statements/write")
    own, foreign = stored_by(mine), stored_by(other)
    frontline = record_statement(statement=StatementFactory())
    # the list holds only its own
    assert ids_of(mine.get()) == {own}
    # and another's statement by id is not found
    assert mine.get({"statementId": own}).status_code == 200
    assert mine.get({"statementId": foreign}).status_code == 404
    assert mine.get({"statementId": str(frontline)}).status_code == 404


def test_statements_read_and_all_read_see_everything():
    writer = client_with("statements/write")
    foreign = stored_by(writer)
    frontline = str(record_statement(statement=StatementFactory()))
    for scope in ("statements/read", "all/read", "all"):
        assert ids_of(client_with(scope).get()) == {foreign, frontline}


def test_a_client_voids_its_own_statements():
    writer = client_with("statements/write", "statements/read/mine")
    own = stored_by(writer)
    assert writer.post(voiding(own)).status_code == 200
    assert Statement.objects.get(pk=own).voided is True


def test_voiding_another_clients_statement_is_refused():
    # given a statement stored by another client
    foreign = stored_by(client_with("statements/write"))
    attacker = client_with("statements/write", "statements/read")
    # when the attacker voids it
    response = attacker.post(voiding(foreign))
    # then 403 and nothing changes, the voiding statement included
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert Statement.objects.get(pk=foreign).voided is False
    assert Statement.objects.count() == 1


def test_no_client_voids_frontlines_own_statements():
    frontline = record_statement(statement=StatementFactory())
    for scopes in (("statements/write",), ("all",)):
        response = client_with(*scopes).post(voiding(frontline))
        assert response.status_code == 403
    assert Statement.objects.get(pk=frontline).voided is False


def test_the_all_scope_voids_other_clients_statements():
    foreign = stored_by(client_with("statements/write"))
    admin = client_with("all")
    assert admin.post(voiding(foreign)).status_code == 200
    assert Statement.objects.get(pk=foreign).voided is True


def test_voiding_ahead_of_arrival_counts_only_for_someone_allowed_to_void():
    # given an attacker voiding an id that is not stored yet (accepted: xAPI allows it)
    victim_id = str(uuid.uuid4())
    attacker = client_with("statements/write")
    assert attacker.post(voiding(victim_id)).status_code == 200
    # when another client then stores that statement
    victim = client_with("statements/write", "statements/read/mine")
    assert victim.post(StatementFactory(id=victim_id)).status_code == 200
    # then it is not voided
    assert Statement.objects.get(pk=victim_id).voided is False
    assert victim.get({"statementId": victim_id}).status_code == 200


def test_voiding_ahead_of_arrival_by_the_owner_still_works():
    own_id = str(uuid.uuid4())
    client = client_with("statements/write", "statements/read/mine")
    assert client.post(voiding(own_id)).status_code == 200
    assert client.post(StatementFactory(id=own_id)).status_code == 200
    assert Statement.objects.get(pk=own_id).voided is True


def test_credentials_from_before_scopes_are_migrated_to_all():
    # given a credential with narrower scopes, as any stored before the migration
    cred, _ = credential(name="Old LMS", scopes=["statements/write"])
    migration = importlib.import_module(
        "analytics.migrations.0008_xapi_scopes_and_report_permissions"
    )
    # when the migration's data step runs
    migration.existing_credentials_keep_everything(apps, None)
    # then it can do everything it could before
    assert XapiCredential.objects.get(pk=cred.pk).scopes == ["all"]


def test_new_credentials_default_to_write_and_read_mine():
    cred = XapiCredential(name="x", key="k", secret_hash="h")
    assert cred.scopes == ["statements/write", "statements/read/mine"]


def test_scopes_are_set_in_the_admin(admin_client):
    cred, _ = credential(name="LMS", scopes=["statements/write"])
    response = admin_client.post(
        f"/admin/analytics/xapicredential/{cred.pk}/change/",
        {"name": "LMS", "scopes": ["statements/read", "state"], "rate_per_minute": 0, "burst": 5},
    )
    assert response.status_code == 302
    assert sorted(XapiCredential.objects.get(pk=cred.pk).scopes) == ["state", "statements/read"]
    page = admin_client.get(f"/admin/analytics/xapicredential/{cred.pk}/change/")
    assert 'type="checkbox" name="scopes" value="statements/read/mine"' in page.content.decode()
