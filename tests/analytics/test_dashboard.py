"""The monitoring dashboard on the admin index: figures equal the database's, sections
without data say so, a failing section does not break the page, permissions hide cards."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from analytics import dashboard
from config.celery_app import app as celery_app
from core.models import JobRun
from tests.analytics.dashboard_data import expected_figures, seed_dashboard_data

pytestmark = pytest.mark.django_db

FIGURE = re.compile(r'data-figure="([\w-]+)"[^>]*?data-value="([^"]*)"')


def figures_on(page: str) -> dict[str, str]:
    return dict(FIGURE.findall(page))


@pytest.fixture
def superuser_client(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456!")
    )
    return client


def test_the_index_shows_the_dashboard_with_the_databases_figures(superuser_client):
    # given: rows in every app the dashboard reads
    seed_dashboard_data()
    # when: staff open the admin index
    response = superuser_client.get(reverse("admin:index"))
    # then: it renders, every figure equals what the database holds
    assert response.status_code == 200
    page = response.content.decode()
    shown = figures_on(page)
    expected = expected_figures()
    for name, value in expected.items():
        assert name in shown, name
        assert Decimal(shown[name]) == Decimal(value), name
    assert Decimal(shown["delivery-success-rate"]) == Decimal("60.0")  # 3 of 5 finished
    assert shown["liability-USD"] == "70.00" and shown["liability-EUR"] == "30.00"
    # and the charts' data and the local Chart.js are on the page (no CDN)
    assert 'id="dashboard-charts"' in page
    assert re.search(
        r'<script src="/static/analytics/vendor/chartjs/chart\.umd\.min[.\w]*\.js"', page
    )
    assert "cdn" not in page.lower()
    # and the usual app list is still there, with links to the detail lists
    assert 'id="content-main"' in page and "app-delivery" in page
    assert reverse("admin:delivery_deliverytask_changelist") + "?state__exact=dead_lettered" in page
    assert reverse("admin:core_jobrun_changelist") + "?status__exact=failed" in page


def test_an_empty_database_shows_no_data_rather_than_failing(superuser_client):
    response = superuser_client.get(reverse("admin:index"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "No delivery tasks created in the last 24 hours." in page
    assert "No job runs in the last 24 hours." in page
    assert "No open gift cards." in page
    assert "No return requests yet." in page
    assert figures_on(page)["xapi-last-hour"] == "0"


def test_a_section_that_fails_shows_no_data_and_the_rest_renders(superuser_client):
    # given: a broker that does not answer
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = superuser_client.get(reverse("admin:index"))
    finally:
        celery_app.conf.broker_url = original
    assert response.status_code == 200
    page = response.content.decode()
    queues = page.split('id="card-queues"')[1].split('id="card-jobs"')[0]
    assert "No data:" in queues
    assert 'id="card-delivery"' in page


def test_queue_depth_is_read_from_the_broker(superuser_client, tasks_queued, redis_client):
    # given: two tasks waiting on the etl queue and one on the default queue (no worker)
    celery_app.send_task("analytics.etl.sweep")
    celery_app.send_task("analytics.etl.sweep")
    celery_app.send_task("core.heartbeat")
    # when
    shown = figures_on(superuser_client.get(reverse("admin:index")).content.decode())
    # then: the figures are the broker's own list lengths
    assert shown["queue-etl"] == str(redis_client.llen("etl")) == "2"
    assert shown["queue-default"] == str(redis_client.llen("default")) == "1"
    assert shown["queue-deliveries"] == "0"
    assert shown["queue-total"] == "3"


def test_cards_need_the_view_permission_of_what_they_show(client, staff_user):
    seed_dashboard_data()
    client.force_login(staff_user)
    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="monitoring-dashboard"' in page
    assert 'id="card-gift-cards"' not in page and 'id="card-delivery"' not in page
    # given the gift card view permission, the liability card appears
    staff_user.user_permissions.add(Permission.objects.get(codename="view_giftcard"))
    staff_user = type(staff_user).objects.get(pk=staff_user.pk)  # fresh permission cache
    client.force_login(staff_user)
    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="card-gift-cards"' in page and 'id="card-delivery"' not in page
    assert "Query console" not in page


def test_figures_are_cached_for_a_while(superuser_client, settings):
    settings.ANALYTICS_DASHBOARD_CACHE_SECONDS = 30
    first = figures_on(superuser_client.get(reverse("admin:index")).content.decode())
    JobRun.objects.create(name="x", status="failed", started_at=dashboard.timezone.now())
    cached = figures_on(superuser_client.get(reverse("admin:index")).content.decode())
    assert "jobs-runs" not in first and "jobs-runs" not in cached  # still the empty figures
    fresh = dashboard.dashboard_figures(use_cache=False)
    assert fresh["sections"]["jobs"]["data"]["failed"] == 1


def test_non_staff_never_reach_the_dashboard(client, user):
    client.force_login(user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_figures_take_a_fixed_number_of_aggregate_queries(django_assert_max_num_queries):
    # ~22 aggregates in all (one per figure group), however many rows there are
    seed_dashboard_data()
    with django_assert_max_num_queries(25):
        dashboard.dashboard_figures(use_cache=False)
    seed_dashboard_data()  # twice the rows: the same queries
    with django_assert_max_num_queries(25):
        dashboard.dashboard_figures(use_cache=False)
