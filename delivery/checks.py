"""System checks for delivery's settings (run by `manage.py check`, `check --deploy`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, register

# Hosts a provider on the internet cannot call back (0.0.0.0 is a bind address, not a host).
LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1", "0.0.0.0", "testserver"}  # noqa: S104


@register(Tags.security, deploy=True)
def public_base_url_check(app_configs=None, **kwargs) -> list[Error]:
    """With Twilio configured, status callbacks (and email answer links) go to
    DELIVERY_PUBLIC_BASE_URL: a local address there means no SMS ever leaves "in transit"."""
    from delivery.channels import is_configured

    if not is_configured("sms"):
        return []
    host = urlsplit(settings.DELIVERY_PUBLIC_BASE_URL or "").hostname or ""
    if host in LOCAL_HOSTS or host.endswith(".localhost"):
        return [
            Error(
                "DELIVERY_PUBLIC_BASE_URL is not a public URL, but SMS is configured: "
                "Twilio's status callbacks would go to "
                f"{settings.DELIVERY_PUBLIC_BASE_URL or '(nothing)'}.",
                hint="Set DELIVERY_PUBLIC_BASE_URL to the https URL the providers reach "
                "this site at.",
                id="delivery.E001",
            )
        ]
    return []
