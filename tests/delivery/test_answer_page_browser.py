"""Headless Chromium (Debian's package, driven by Playwright) opens an emailed answer link,
answers, sees the result, and finds the link refused the second time."""

import re

import pytest
from playwright.sync_api import sync_playwright

from assessments.models import AssessmentResult
from delivery.services import task_send
from tests.delivery.factories import DeliveryTaskFactory
from tests.learners.factories import LearnerFactory

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.django_db(transaction=True)
def test_a_learner_answers_from_the_emailed_link_once(live, lesson, live_server, settings):
    # given: the lesson was emailed with a link to this server
    settings.DELIVERY_PUBLIC_BASE_URL = live_server.url
    learner = LearnerFactory(preferred_channel="email")
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)
    task_send(task_id=task.pk)
    text = live.smtp.messages[0].content.decode()
    link = re.search(re.escape(live_server.url) + r"/answer/\S+", text).group(0)

    # Playwright gives each launch a fresh temporary profile of its own.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            # when: they open it, pick the right answer and submit
            page.goto(link)
            assert page.get_by_text(lesson.quiz_question).is_visible()
            page.get_by_label("The receipt").check()
            page.get_by_role("button", name="Submit answer").click()
            # then: they see the result
            assert "Correct!" in page.locator("#verdict").inner_text()
            # and the link does not work a second time
            response = page.goto(link)
            assert response.status == 410
            assert "already been used" in page.locator("#refusal").inner_text()
        finally:
            browser.close()

    result = AssessmentResult.objects.get(learner=learner)
    assert (result.user_answer, result.is_correct, result.channel) == (0, True, "email")
