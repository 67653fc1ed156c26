"""The emailed answer link: signed, expiring, single use; the page is server-rendered."""

import re

import pytest
from django.core import signing

from assessments.models import AssessmentResult
from delivery.links import answer_token
from delivery.models import InboundRequest
from delivery.services import task_send
from tests.delivery.factories import DeliveryTaskFactory
from tests.learners.factories import LearnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def emailed(live, lesson):
    task = DeliveryTaskFactory(
        learner=LearnerFactory(preferred_channel="email"), microlesson=lesson
    )
    task_send(task_id=task.pk)
    text = live.smtp.messages[0].content.decode()
    path = re.search(r"https://frontline\.example\.com(/answer/\S+)", text).group(1)
    return task, path


def test_the_emailed_link_opens_the_question(client, emailed):
    task, path = emailed

    response = client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    assert task.microlesson.quiz_question in html
    assert 'name="viewport"' in html
    assert html.count('type="radio"') == 4


def test_answering_scores_once_and_spends_the_link(client, emailed):
    _task, path = emailed

    answered = client.post(path, {"answer": "0"})
    again = client.post(path, {"answer": "1"})
    reopened = client.get(path)

    assert answered.status_code == 200 and b"Correct!" in answered.content
    assert again.status_code == 410 and reopened.status_code == 410
    assert b"already been used" in again.content
    result = AssessmentResult.objects.get()
    assert (result.user_answer, result.channel) == (0, "email")


def test_a_bad_choice_is_400_and_keeps_the_link(client, emailed):
    _task, path = emailed

    response = client.post(path, {"answer": "9"})

    assert response.status_code == 400
    assert not AssessmentResult.objects.exists()
    assert client.get(path).status_code == 200


def test_a_forged_link_is_404(client, emailed):
    task, path = emailed

    response = client.get(path[:-3] + "xyz")
    other = client.get(
        "/answer/" + answer_token(task_id=task.pk, learner_id=task.learner_id + 1)[:-1]
    )

    assert (response.status_code, other.status_code) == (404, 404)
    assert InboundRequest.objects.filter(outcome="answer_link_invalid").count() == 2


def test_an_expired_link_is_410(client, emailed, settings, monkeypatch):
    _task, path = emailed
    settings.DELIVERY_ANSWER_LINK_HOURS = 1
    real_unsign = signing.TimestampSigner.unsign

    def later(self, value, max_age=None):  # read the link two hours from now
        return real_unsign(self, value, max_age=max_age.total_seconds() - 7200 if max_age else None)

    monkeypatch.setattr(signing.TimestampSigner, "unsign", later)

    response = client.get(path)

    assert response.status_code == 410
    assert b"expired" in response.content


# --- "save this topic for later" -----------------------------------------------------


def test_the_question_and_the_verdict_both_offer_to_save_the_topic(client, emailed):
    task, path = emailed
    button = f'action="{path}/save"'

    question = client.get(path).content.decode()
    verdict = client.post(path, {"answer": "0"}).content.decode()

    assert button in question and button in verdict
    assert task.microlesson.topic.title in verdict


def test_saving_from_the_answer_page_bookmarks_the_topic_once(client, emailed):
    from lessons.models import InteractionType, LearnerInteraction, SavedTopic

    task, path = emailed

    first = client.post(f"{path}/save")
    again = client.post(f"{path}/save")

    assert first.status_code == again.status_code == 200
    assert b'id="saved"' in first.content
    saved = SavedTopic.objects.get()
    assert (saved.learner_id, saved.topic_id) == (task.learner_id, task.microlesson.topic_id)
    assert LearnerInteraction.objects.filter(type=InteractionType.SAVED).count() == 1
    logged = InboundRequest.objects.filter(kind="answer_page_save").values_list(
        "outcome", flat=True
    )
    assert sorted(logged) == ["already_saved", "saved"]


def test_a_spent_link_still_saves_but_a_forged_one_does_not(client, emailed):
    from lessons.models import SavedTopic

    task, path = emailed
    client.post(path, {"answer": "0"})  # spends the link for answering

    assert client.post(f"{path}/save").status_code == 200
    forged = "/answer/" + answer_token(task_id=task.pk, learner_id=task.learner_id + 1)
    assert client.post(f"{forged}/save").status_code == 404
    assert client.post(path[:-3] + "xyz/save").status_code == 404
    assert client.get(f"{path}/save").status_code == 405
    assert SavedTopic.objects.count() == 1
