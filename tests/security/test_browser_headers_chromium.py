"""Headless Chromium under the real Content-Security-Policy: the dashboard and the answer
page render fully (charts drawn, swatches painted, styles applied) with no violation."""

from __future__ import annotations

import contextlib

import pytest
from playwright.sync_api import sync_playwright

from tests.analytics.dashboard_data import seed_dashboard_data
from tests.delivery.test_answer_page_browser import ARGS, CHROMIUM

PASSWORD = "pw-123456!"
# Registered before any page script runs: every refusal the policy makes is recorded.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@contextlib.contextmanager
def browser_page(settings):
    """A Chromium page recording policy violations. Start it after the database work:
    Playwright's sync API runs an event loop, inside which Django refuses ORM calls."""
    # live_server serves static files through the finders, which know no hashed names.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.add_init_script(RECORD_VIOLATIONS)
            console = []
            page.on("console", lambda message: console.append(message.text))
            page.console_messages = console
            yield page
        finally:
            browser.close()


def _violations(page) -> list[str]:
    reported = page.evaluate("() => window.__violations")
    logged = [text for text in page.console_messages if "Content Security Policy" in text]
    return reported + logged


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_dashboard_draws_everything_under_the_policy(live_server, django_user_model, settings):
    # given
    settings.ANALYTICS_DASHBOARD_CACHE_SECONDS = 0
    seed_dashboard_data()
    django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    with browser_page(settings) as page:
        _check_dashboard(page, live_server)


def _check_dashboard(page, live_server):
    # when
    response = page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    # then: the charts are drawn and the swatches painted by the page's own scripts
    for chart in ("#chart-delivery", "#chart-ingest"):
        page.wait_for_selector(f'{chart}[data-drawn="true"]', timeout=10_000)
    swatches = page.eval_on_selector_all(
        ".fl-swatch[data-colour]",
        "(els) => els.map((el) => [el.dataset.colour, getComputedStyle(el).backgroundColor])",
    )
    assert swatches, "no state swatches on the dashboard"
    for colour, painted in swatches:
        red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
        assert painted == f"rgb({red}, {green}, {blue})", (colour, painted)
    # and the policy refused nothing
    assert _violations(page) == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_answer_page_is_styled_under_the_policy(live_server, settings):
    with browser_page(settings) as page:
        response = page.goto(f"{live_server.url}/answer/not-a-real-token")
        assert response.status in (400, 404, 410)
        assert "style-src 'self'" in response.headers["content-security-policy"]
        background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(244, 245, 247)"  # from frontline/answer.css
        assert _violations(page) == []
