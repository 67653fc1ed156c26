"""Admin: credentials issued with the secret shown once, revoked by action; read-only statements."""

import pytest
from django.urls import reverse

from analytics import services
from analytics.models import Statement, XapiCredential
from tests.analytics.conftest import XapiClient
from tests.analytics.factories import StatementFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    admin_user = django_user_model.objects.create_superuser(
        "root", "root@example.com", "pw-123456!"
    )
    client.force_login(admin_user)
    return client


def test_creating_a_credential_shows_the_secret_once_and_it_works(admin_client):
    # when an admin adds a credential
    response = admin_client.post(
        reverse("admin:analytics_xapicredential_add"),
        {
            "name": "Moodle",
            "scopes": ["statements/write", "statements/read"],
            "rate_per_minute": 0,
            "burst": 10,
        },
        follow=True,
    )
    # then the page shows the password once
    assert response.status_code == 200
    credential = XapiCredential.objects.get(name="Moodle")
    [message] = [m.message for m in response.context["messages"] if "password" in m.message]
    assert message in response.content.decode()
    secret = message.split("password <code>")[1].split("</code>")[0]
    assert credential.key in message
    assert secret not in credential.secret_hash
    # and it authenticates
    assert XapiClient(credential.key, secret).post(StatementFactory()).status_code == 200
    # and the change page never shows it again
    page = admin_client.get(reverse("admin:analytics_xapicredential_change", args=[credential.pk]))
    assert secret not in page.content.decode()


def test_revoke_action_stops_the_credential(admin_client):
    issued = services.xapi_credential_create(name="Old LMS", scopes=["all"], rate_per_minute=0)
    client = XapiClient(issued.credential.key, issued.secret)
    assert client.get().status_code == 200
    admin_client.post(
        reverse("admin:analytics_xapicredential_changelist"),
        {"action": "revoke", "_selected_action": [issued.credential.pk]},
    )
    issued.credential.refresh_from_db()
    assert not issued.credential.is_active and issued.credential.revoked_at
    assert client.get().status_code == 401


def test_statement_pages_render_read_only_with_the_etl_lag(admin_client):
    ids = services.statements_store(statements=StatementFactory.build_batch(3))
    changelist = admin_client.get(
        reverse("admin:analytics_statement_changelist"), {"q": "completed"}
    )
    assert changelist.status_code == 200
    body = changelist.content.decode()
    assert 'id="etl-unflattened">3<' in body
    detail = admin_client.get(reverse("admin:analytics_statement_change", args=[ids[0]]))
    assert detail.status_code == 200
    assert "mailto:" in detail.content.decode()
    assert admin_client.get(reverse("admin:analytics_statement_add")).status_code == 403
    assert Statement.objects.count() == 3
