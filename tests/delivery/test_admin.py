"""Staff views: task list and detail (attempts inline, transition buttons), dead-letter
requeue action, and the read-only logs."""

import datetime

import pytest
from django.utils import timezone

from delivery.models import DeliveryTask, TaskState
from delivery.services import task_send
from tests.delivery.factories import DeliveryTaskFactory
from tests.learners.factories import LearnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_letter(live, lesson):
    learner = LearnerFactory(preferred_channel="slack", email_opted_out=True, sms_opted_out=True)
    task = DeliveryTaskFactory(learner=learner, microlesson=lesson)
    live.fail_next("slack", "server_error", times=4)
    now = timezone.now()
    for _ in range(4):
        task_send(task_id=task.pk, now=now)
        now += datetime.timedelta(hours=2)
    task = DeliveryTask.objects.get(pk=task.pk)
    assert task.state == TaskState.DEAD_LETTERED
    return task


def test_requeue_action_puts_dead_letters_back(admin_client, dead_letter, live):
    response = admin_client.post(
        "/admin/delivery/deliverytask/",
        {"action": "requeue_dead_letters", "_selected_action": [dead_letter.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Requeued 1 task(s)." in response.content.decode()
    task = DeliveryTask.objects.get(pk=dead_letter.pk)
    assert task.state == TaskState.PENDING and task.retry_count == 0
    assert task_send(task_id=task.pk).result == "accepted"


def test_detail_page_shows_attempts_and_transition_buttons(admin_client, dead_letter):
    response = admin_client.get(f"/admin/delivery/deliverytask/{dead_letter.pk}/change/")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("server_error") >= 4  # one row per attempt
    assert "Requeue" in html and "Cancel" in html


def test_transition_button_requeues(admin_client, dead_letter):
    attempts = list(dead_letter.attempts.order_by("number"))
    form = {
        "_fsm_transition_to": "requeue",
        "attempts-TOTAL_FORMS": len(attempts),
        "attempts-INITIAL_FORMS": len(attempts),
        "attempts-MIN_NUM_FORMS": 0,
        "attempts-MAX_NUM_FORMS": 1000,
    }
    for index, attempt in enumerate(attempts):
        form[f"attempts-{index}-id"] = attempt.pk
        form[f"attempts-{index}-task"] = dead_letter.pk

    response = admin_client.post(f"/admin/delivery/deliverytask/{dead_letter.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[-3000:]
    assert DeliveryTask.objects.get(pk=dead_letter.pk).state == TaskState.PENDING


@pytest.mark.parametrize(
    "page",
    [
        "deliverytask",
        "deliveryattempt",
        "consentrecord",
        "inboundrequest",
        "notification",
        "learnerdeliverystate",
        "sinkmessage",
    ],
)
def test_list_pages_render_with_filters(admin_client, dead_letter, page):
    response = admin_client.get(f"/admin/delivery/{page}/?q=x")

    assert response.status_code == 200


def test_staff_resume_a_paused_learner(admin_client):
    from django.utils import timezone

    from delivery.models import LearnerDeliveryState, Notification

    state = LearnerDeliveryState.objects.create(
        learner=LearnerFactory(), paused_at=timezone.now(), paused_reason="3 reminders unanswered"
    )

    admin_client.post(
        "/admin/delivery/learnerdeliverystate/",
        {"action": "resume_learners", "_selected_action": [state.pk]},
    )

    state.refresh_from_db()
    assert state.paused_at is None and state.resumed_at is not None
    assert Notification.objects.get(kind="resumed").detail["how"].startswith("staff")


def test_possible_duplicates_are_a_list_filter_and_a_dashboard_figure(admin_client, lesson):
    from analytics.dashboard import deliveries

    flagged = DeliveryTaskFactory(microlesson=lesson, possible_duplicate=True)
    DeliveryTaskFactory(microlesson=lesson)
    response = admin_client.get("/admin/delivery/deliverytask/", {"possible_duplicate__exact": "1"})
    assert [task.pk for task in response.context["cl"].result_list] == [flagged.pk]
    assert deliveries(timezone.now())["possible_duplicates"] == 1


def test_the_breaker_page_is_for_staff_only(client, admin_client):
    assert admin_client.get("/admin/delivery/deliverytask/breakers/").status_code == 200
    response = client.get("/admin/delivery/deliverytask/breakers/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_breaker_page_needs_the_delivery_health_permission(client, staff_user):
    from django.contrib.auth.models import Permission

    client.force_login(staff_user)
    url = "/admin/delivery/deliverytask/breakers/"
    assert client.get(url).status_code == 403  # is_staff alone grants nothing
    staff_user.user_permissions.add(Permission.objects.get(codename="view_delivery_health"))
    assert client.get(url).status_code == 200
