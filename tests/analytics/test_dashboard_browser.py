"""Headless Chromium (Debian's package, driven by Playwright, as in the delivery browser
test) logs into the admin, opens the monitoring dashboard, finds both charts drawn from
the local Chart.js and every figure equal to what the database holds."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import sync_playwright

from delivery.models import TaskState
from tests.analytics.dashboard_data import expected_figures, seed_dashboard_data
from tests.delivery.test_answer_page_browser import ARGS, CHROMIUM

PASSWORD = "pw-123456!"

# Pixels of a canvas that are not transparent (a blank canvas has none).
PAINTED = """(canvas) => {
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
    return {painted, total: canvas.width * canvas.height};
}"""


def number(text: str) -> Decimal:
    return Decimal(re.sub(r"[^\d.\-]", "", text))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_log_in_and_see_the_dashboard_drawn_with_the_databases_figures(
    live_server, django_user_model, settings
):
    # given: data in every app the dashboard reads, and a staff superuser
    settings.ANALYTICS_DASHBOARD_CACHE_SECONDS = 0
    # live_server serves static files through the finders, which know no hashed names.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    seed_dashboard_data()
    django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    expected = expected_figures()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            outside, failed = [], []
            page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
            page.on(
                "request",
                lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None,
            )
            # when: they log in through the admin's login form
            page.goto(f"{live_server.url}/admin/login/?next=/admin/")
            page.fill("#id_username", "root")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(f"{live_server.url}/admin/")
            # then: both charts are drawn
            for chart in ("#chart-delivery", "#chart-ingest"):
                page.wait_for_selector(f'{chart}[data-drawn="true"]', timeout=10_000)
                painted = page.eval_on_selector(chart, PAINTED)
                assert painted["total"] > 0
                assert painted["painted"] > 0.01 * painted["total"], (chart, painted)
            # and the doughnut holds the database's task counts per state
            slices = page.evaluate(
                "() => Chart.getChart(document.getElementById('chart-delivery'))"
                ".data.datasets[0].data"
            )
            assert slices == [int(expected.get(f"delivery-state-{s}", 0)) for s in TaskState]
            # and every figure shown equals the database's
            for name, value in expected.items():
                element = page.locator(f'[data-figure="{name}"]')
                assert element.count() == 1, name
                assert number(element.inner_text()) == Decimal(value), name
                assert Decimal(element.get_attribute("data-value")) == Decimal(value), name
            assert page.locator("#card-delivery").inner_text().count("60.0%") == 1
            # and the usual app list is still on the page
            assert page.locator("#content-main .app-delivery").is_visible()
            # and nothing was fetched from anywhere but this server (no CDN)
            assert outside == []
            assert [url for url in failed if not url.endswith("/favicon.ico")] == []
        finally:
            browser.close()
