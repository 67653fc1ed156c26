"""Helpers for the two-step registration and the contact codes: read the code that was
really sent (locmem email, the Twilio/Slack fakes) and go through the API with it."""

from __future__ import annotations

import re

from django.core import mail

from tests.commits import committed

REGISTER = "/api/v1/learners/register/"
VERIFY_CONTACT = "/api/v1/me/contacts/verify/"
_CODE = re.compile(r"\b(\d{6})\b")


def configure_email(settings) -> None:
    """The email channel configured (pytest-django keeps Django's locmem backend)."""
    settings.EMAIL_HOST = "smtp.frontline.test"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def lift_registration_throttle(settings) -> None:
    """Registration unthrottled for a test that makes more sign-up calls than the 5 an hour
    one address may (tests/security/test_client_ip_proxies.py holds the limit itself).
    RegistrationThrottle reads the rate at request time; the cache starts empty."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "registration": "1000/hour",
        },
    }


def code_in(text: str) -> str:
    match = _CODE.search(text or "")
    assert match, f"no code in {text!r}"
    return match.group(1)


def emailed_code(address: str) -> str:
    """The code in the latest email to `address`."""
    sent = [m for m in mail.outbox if address in m.to]
    assert sent, f"nothing emailed to {address}"
    return code_in(sent[-1].body)


def request_code(client, capture, **keys):
    """Step 1, with the after-commit email actually sent."""
    with committed(capture):
        return client.post(REGISTER, keys, format="json")


def register(client, capture, *, employee_id: str, email: str, password: str, **extra):
    """Both steps: ask for the code, read it from the roster email, claim the entry."""
    assert request_code(client, capture, employee_id=employee_id).status_code == 202
    body = {"employee_id": employee_id, "code": emailed_code(email), "password": password}
    return client.post(REGISTER, {**body, **extra}, format="json")
