import json
import re

import pytest
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from core.errors_views import server_error
from core.models import JobRun, OutboxEvent


@pytest.mark.django_db
def test_missing_page_is_an_admin_styled_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    stylesheet = re.search(r'href="(/static/admin/css/base[^"]*\.css)"', html).group(1)
    assert client.get(stylesheet).status_code == 200


@pytest.mark.django_db
def test_missing_api_resource_is_json_404(client):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "The page you asked for does not exist or has moved.",
    }


def test_server_error_page_renders_without_a_database():
    request = RequestFactory().get("/admin/somewhere/")
    response = server_error(request)
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


@pytest.mark.django_db
def test_admin_lists_job_runs_and_outbox_events(admin_client):
    JobRun.objects.create(
        name="lessons.dispatch", started_at="2026-11-20T09:00:00Z", status="failed", error="boom"
    )
    OutboxEvent.objects.create(topic="lesson.sent", payload={"n": 1})
    jobs = admin_client.get("/admin/core/jobrun/?status__exact=failed")
    assert jobs.status_code == 200
    assert "lessons.dispatch" in jobs.content.decode()
    events = admin_client.get("/admin/core/outboxevent/")
    assert events.status_code == 200
    assert "lesson.sent" in events.content.decode()
    assert admin_client.get("/admin/core/jobrun/add/").status_code == 403


@pytest.mark.django_db
def test_seed_demo_refuses_a_production_database():
    with pytest.raises(CommandError, match="embedded mode only"):
        call_command("seed_demo")


def test_an_error_from_a_lost_database_reaching_the_500_handler_is_a_503():
    # Middleware errors skip the view-level handlers; Django then calls handler500 inside
    # its `except` block, where the exception is still at hand.
    from django.db import OperationalError

    page = RequestFactory().get("/admin/somewhere/")
    api = RequestFactory().get("/api/v1/learners/")
    try:
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError:
        html, json_response = server_error(page), server_error(api)
    assert (html.status_code, json_response.status_code) == (503, 503)
    assert html["Retry-After"] == json_response["Retry-After"] == "10"
    assert "Temporarily unavailable" in html.content.decode()
    assert json.loads(json_response.content)["dependency"] == "database"


def test_any_other_error_reaching_the_500_handler_stays_a_500():
    request = RequestFactory().get("/api/v1/learners/")
    try:
        raise KeyError("a bug")
    except KeyError:
        response = server_error(request)
    assert response.status_code == 500
    assert json.loads(response.content)["code"] == "server_error"
