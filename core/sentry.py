"""
Error reporting to Sentry (SENTRY_DSN): the Django and Celery integrations, no personal
data, and every event scrubbed like a log line (core.logging.scrub) before it leaves.
"""

from __future__ import annotations

from typing import Any

from core.logging import scrub_value

# Events nest deeper than log extras: exception → values → stacktrace → frames → vars → …
_EVENT_DEPTH = 24


def before_send(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """The event with codes, tokens and secret-named values redacted wherever they sit
    (messages, exception values, frame variables, breadcrumbs, request data, extras)."""
    return scrub_value(event, max_depth=_EVENT_DEPTH)


def init(*, dsn: str, environment: str, release: str | None, traces_sample_rate: float) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        before_send=before_send,
        before_send_transaction=before_send,
        traces_sample_rate=traces_sample_rate,
    )
