"""
Error pages: JSON for API clients, admin-styled HTML for people.

The 500 and 503 pages render without context processors or database access, so they still
work when the failure is the database itself. An error that reaches the 500 handler
because a dependency is down (raised in a middleware, where no view-level handler sees it)
is answered as the 503 it is.
"""

import sys

from django.http import HttpResponse, JsonResponse
from django.template import loader

from core.outages import dependency_down, note_request_failure, retry_after_seconds

_API_PREFIXES = ("/api/", "/xapi/", "/webhooks/")

_PAGES = {
    400: ("bad_request", "Bad request", "The request could not be understood."),
    403: ("permission_denied", "Access denied", "You do not have permission to view this page."),
    404: ("not_found", "Page not found", "The page you asked for does not exist or has moved."),
    500: (
        "server_error",
        "Something went wrong",
        "The error has been logged; please try again shortly.",
    ),
    503: (
        "service_unavailable",
        "Temporarily unavailable",
        "A service this page depends on is unavailable; please try again shortly.",
    ),
}


def _wants_json(request) -> bool:
    accept = request.headers.get("Accept", "")
    return request.path.startswith(_API_PREFIXES) or (
        "application/json" in accept and "text/html" not in accept
    )


def _respond(request, status: int, **extra) -> HttpResponse:
    code, title, message = _PAGES[status]
    if _wants_json(request):
        return JsonResponse({"code": code, "message": message, **extra}, status=status)
    template = loader.get_template(f"{status}.html")
    body = template.render({"status": status, "title": title, "message": message, **extra})
    return HttpResponse(body, status=status)


def service_unavailable(request, *, dependency: str) -> HttpResponse:
    """503 with Retry-After, naming the dependency that is down (`database`, `redis`, ...)."""
    response = _respond(request, 503, dependency=dependency)
    response["Retry-After"] = str(retry_after_seconds())
    return response


def bad_request(request, exception=None):
    return _respond(request, 400)


def permission_denied(request, exception=None):
    return _respond(request, 403)


def page_not_found(request, exception=None):
    return _respond(request, 404)


def server_error(request):
    # Django calls this inside its `except` block, so the exception is still at hand.
    exc = sys.exc_info()[1]
    dependency = dependency_down(exc)
    if dependency is not None:
        note_request_failure(dependency, exc, request.path)
        return service_unavailable(request, dependency=dependency)
    return _respond(request, 500)
