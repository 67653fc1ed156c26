"""Consent changes over the API (kept as consent records) and the delivery health figures."""

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from delivery.models import ConsentRecord
from delivery.services import task_send
from tests.delivery.factories import DeliveryTaskFactory
from tests.learners.factories import LearnerFactory

pytestmark = pytest.mark.django_db


def test_a_learner_opts_out_of_sms_through_the_api(api_client, user):
    learner = LearnerFactory(user=user)
    api_client.force_authenticate(user)

    response = api_client.post("/api/v1/consents/", {"channel": "sms", "opted_out": True})

    assert response.status_code == 201
    learner.refresh_from_db()
    assert learner.sms_opted_out is True
    record = ConsentRecord.objects.get()
    assert (record.method, record.action, record.acting_user) == ("api", "opt_out", user)


def _with_permission(user, codename):
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="delivery", codename=codename)
    )
    return type(user).objects.get(pk=user.pk)


def test_only_staff_change_someone_elses_consent(api_client, user, staff_user):
    staff_user = _with_permission(staff_user, "add_consentrecord")
    LearnerFactory(user=user)
    other = LearnerFactory()
    api_client.force_authenticate(user)

    refused = api_client.post(
        "/api/v1/consents/", {"channel": "email", "opted_out": True, "learner": other.pk}
    )
    api_client.force_authenticate(staff_user)
    allowed = api_client.post(
        "/api/v1/consents/", {"channel": "email", "opted_out": True, "learner": other.pk}
    )

    assert (refused.status_code, allowed.status_code) == (403, 201)
    other.refresh_from_db()
    assert other.email_opted_out is True and ConsentRecord.objects.count() == 1


def test_bad_consent_input_is_400_with_field_errors(api_client, user):
    LearnerFactory(user=user)
    api_client.force_authenticate(user)

    response = api_client.post("/api/v1/consents/", {"channel": "pigeon"})

    assert response.status_code == 400
    body = response.json()
    assert "channel" in str(body) and "opted_out" in str(body)
    assert not ConsentRecord.objects.exists()


def test_staff_record_consent_in_the_admin(admin_client):
    learner = LearnerFactory()

    response = admin_client.post(
        "/admin/delivery/consentrecord/add/",
        {
            "learner": learner.pk,
            "channel": "slack",
            "action": "opt_out",
            "message": "asked at till",
        },
    )

    assert response.status_code == 302
    learner.refresh_from_db()
    assert learner.slack_opted_out is True
    assert ConsentRecord.objects.get().method == "staff"


def test_delivery_health_reports_rates_and_errors(api_client, staff_user, live, lesson):
    ok = DeliveryTaskFactory(learner=LearnerFactory(preferred_channel="slack"), microlesson=lesson)
    bad = DeliveryTaskFactory(
        learner=LearnerFactory(preferred_channel="slack", email_opted_out=True, sms_opted_out=True),
        microlesson=lesson,
    )
    task_send(task_id=ok.pk)
    live.fail_next("slack", "invalid_auth")
    task_send(task_id=bad.pk, now=timezone.now())
    api_client.force_authenticate(_with_permission(staff_user, "view_delivery_health"))

    body = api_client.get("/api/v1/delivery/health/").json()

    assert body["tasks_by_state"] == {"delivered": 1, "failed": 1}
    assert body["success_rate"] == 0.5
    assert body["errors_by_reason"] == {"invalid_auth": 1}
    assert body["average_delivery_seconds"] is not None


def test_delivery_health_is_staff_only(authed_client):
    assert authed_client.get("/api/v1/delivery/health/").status_code == 403
