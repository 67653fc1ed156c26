"""
Error pages: JSON for API clients, admin-styled HTML for people.

The 500 page renders without context processors or database access, so it still works
when the failure is the database itself.
"""

from django.http import HttpResponse, JsonResponse
from django.template import loader

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
}


def _wants_json(request) -> bool:
    accept = request.headers.get("Accept", "")
    return request.path.startswith(_API_PREFIXES) or (
        "application/json" in accept and "text/html" not in accept
    )


def _respond(request, status: int) -> HttpResponse:
    code, title, message = _PAGES[status]
    if _wants_json(request):
        return JsonResponse({"code": code, "message": message}, status=status)
    template = loader.get_template(f"{status}.html")
    body = template.render({"status": status, "title": title, "message": message})
    return HttpResponse(body, status=status)


def bad_request(request, exception=None):
    return _respond(request, 400)


def permission_denied(request, exception=None):
    return _respond(request, 403)


def page_not_found(request, exception=None):
    return _respond(request, 404)


def server_error(request):
    return _respond(request, 500)
