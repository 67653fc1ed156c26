"""
The OpenAPI schema tells the truth: schemathesis drives every operation of /api/schema/
through the WSGI app, as staff (a superuser), as a learner and anonymously, with
schema-valid data (positive mode), and checks each answer:

- not_a_server_error: never a 5xx;
- status_code_conformance: every status answered is documented for that operation;
- response_schema_conformance: every body matches the schema documented for its status;
- positive_data_acceptance: no schema-valid request is refused as malformed (400).

A 400 means "the schema says this is malformed", so the schema states every rule a
serializer checks on its own (patterns, ranges, enums, non-blank). What a schema cannot
state gets its own answer: a well-formed id or slug of nothing is a 404 (the filters of a
list match nothing instead: 200), a request that breaks a rule across fields, a limit that
depends on configuration or a code that does not match is a 422 with one of the codes in
RULE_CODES, and a conflict with the current state a 409.

The number of examples per operation is bounded (SCHEMATHESIS_MAX_EXAMPLES, default 5)
so the three passes over every operation take a few minutes at most on a small machine.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from django.core.cache import cache
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as hypothesis_settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.lessons.conftest import bank as bank  # topics, lessons, the onboarding path

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "5"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]
# schemathesis accepts 2xx, 3xx, 401, 403, 404, 409 and 429 from a schema-valid request;
# 422 too here, but only with one of these codes (checked for every 422 answered).
RULE_CODES = {"unprocessable", "invalid_amount", "invalid_code", "invalid_link", "invalid_expiry"}


@pytest.fixture
def no_throttles(settings):
    """Rates out of reach: a 429 here would hide what the operation itself answers."""
    rest = {**settings.REST_FRAMEWORK}
    rest["DEFAULT_THROTTLE_RATES"] = {
        scope: "1000000/min" for scope in rest["DEFAULT_THROTTLE_RATES"]
    }
    settings.REST_FRAMEWORK = rest
    settings.GIFT_CARD_CODE_BURST = 1_000_000
    settings.GIFT_CARD_CODE_RATE_PER_MINUTE = 0
    settings.GIFT_CARD_LOCKOUT_THRESHOLD = 1_000_000
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    api_settings.reload()
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rest["DEFAULT_THROTTLE_RATES"]
    yield
    SimpleRateThrottle.THROTTLE_RATES = original


@pytest.fixture
def keep_test_connection():
    """schemathesis calls the WSGI app directly; like Django's test client, keep the request
    signals from closing the test's connection (and its transaction) after each call."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _schema():
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE],
        max_examples=MAX_EXAMPLES,
        # NUL is refused on purpose everywhere (core.input, a documented 400).
        allow_x00=False,
        codec="utf-8",
    )
    acceptance = schema.config.checks.positive_data_acceptance
    schema.config.checks.positive_data_acceptance = type(acceptance)(
        expected_statuses=[*acceptance.expected_statuses, "422"]
    )
    return schema


def _headers_for(role: str, django_user_model) -> dict[str, str]:
    from tests.learners.factories import LearnerFactory

    if role == "anonymous":
        return {}
    if role == "staff":
        user = django_user_model.objects.create_superuser(username="st-admin", password=None)
    else:
        user = django_user_model.objects.create_user(username="EMP-ST")
        LearnerFactory(employee_id="EMP-ST", user=user)
    return {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}


def _describe(exc: BaseException) -> str:
    parts = [str(exc)[:200]]
    for failure in getattr(exc, "exceptions", ()):
        parts.append(f"  - {type(failure).__name__}: {str(failure)[:1200]}")
    return "\n".join(parts)


def _run_operation(operation, headers: dict[str, str]) -> list[str]:
    failures: list[str] = []

    @seed(20261203)
    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def run(case):
        cache.clear()
        response = case.call(headers=headers)
        if response.status_code == 422 and response.json().get("code") not in RULE_CODES:
            failures.append(f"{operation.label}: 422 with an unknown code: {response.text[:300]}")
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (AssertionError, FailureGroup) as exc:  # every failed check, described
            failures.append(
                f"{operation.label}: [{response.status_code}] {response.text[:300]}\n"
                f"  sent: {case.path_parameters} {case.query} {str(case.body)[:300]}\n"
                f"{_describe(exc)}"
            )

    run()
    return failures


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["staff", "learner", "anonymous"])
def test_every_operation_answers_as_documented(
    role, no_throttles, keep_test_connection, bank, django_user_model
):
    # given
    schema = _schema()
    headers = _headers_for(role, django_user_model)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50, "the schema lost its operations"
    # when
    failures = []
    for operation in operations:
        failures.extend(_run_operation(operation, headers))
    # then
    by_operation = Counter(failure.split(":", 1)[0] for failure in failures)
    assert not failures, f"{len(failures)} failures in {dict(by_operation)}:\n" + "\n\n".join(
        failures[: int(os.environ.get("ST_SHOW", "15"))]
    )
