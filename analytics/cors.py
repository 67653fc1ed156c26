"""
CORS for xAPI content launched in a browser on another origin, on every `/xapi/` path.

django-cors-headers covers `/api/` with one list of origins for the whole site; an LRS's
origins belong to each client instead: `XapiCredential.allowed_origins`, set in the admin.

- A preflight (OPTIONS with Origin and Access-Control-Request-Method) carries no
  credentials, so it cannot be checked against one: it is answered here, before any view,
  for any origin, with xAPI's methods and request headers. That grants nothing by itself.
- The actual request's response gets `Access-Control-Allow-Origin` (and the exposed xAPI
  headers) only when the credential that authenticated it (`auth.authenticate`, whichever
  view called it) lists the request's Origin. Without that header the browser hides the
  response from the page, whatever its status. No cookies are involved (the content sends
  Authorization itself), so Access-Control-Allow-Credentials is never sent.

Every `/xapi/` response that came with an Origin varies on it (`Vary: Origin`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

from analytics import auth

XAPI_PATH_PREFIX = "/xapi/"
ALLOW_METHODS = "GET, HEAD, POST, PUT, DELETE, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type, X-Experience-API-Version, If-Match, If-None-Match"
EXPOSE_HEADERS = (
    "ETag, Last-Modified, X-Experience-API-Consistent-Through, X-Experience-API-Version, "
    "Retry-After"
)
PREFLIGHT_MAX_AGE = 600


def normalize_origin(value: str) -> str:
    """`scheme://host[:port]` in lower case, default ports dropped; ValidationError for
    anything that is not a bare http(s) origin (a path, a wildcard, credentials)."""
    text = value.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"{text!r} is not an origin.") from exc
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or "*" in text
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ValidationError(
            f"{text!r} is not an origin: use scheme://host[:port], e.g. https://lms.example."
        )
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port and port != default_port else "")


def origin_allowed(credential, origin: str) -> bool:
    """Whether `credential` lists `origin` (compared normalized; "null" never matches)."""
    if credential is None or not origin:
        return False
    try:
        wanted = normalize_origin(origin)
    except ValidationError:
        return False
    return wanted in (credential.allowed_origins or ())


def _is_preflight(request: HttpRequest) -> bool:
    return (
        request.method == "OPTIONS"
        and "Origin" in request.headers
        and "Access-Control-Request-Method" in request.headers
    )


def _preflight(request: HttpRequest) -> HttpResponse:
    from analytics.validation import XAPI_1_0

    response = HttpResponse(status=200)
    response["Access-Control-Allow-Origin"] = request.headers["Origin"]
    response["Access-Control-Allow-Methods"] = ALLOW_METHODS
    response["Access-Control-Allow-Headers"] = ALLOW_HEADERS
    response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    response["X-Experience-API-Version"] = XAPI_1_0
    patch_vary_headers(
        response, ("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers")
    )
    return response


class XapiCorsMiddleware:
    """CORS on `/xapi/`: preflights answered for xAPI's headers, actual responses opened to
    the origins of the credential that authenticated them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(XAPI_PATH_PREFIX):
            return self.get_response(request)
        if _is_preflight(request):
            return _preflight(request)
        with auth.authenticated_scope() as authenticated:
            response = self.get_response(request)
        origin = request.headers.get("Origin")
        if origin is None:
            return response
        patch_vary_headers(response, ("Origin",))
        credential = getattr(request, "xapi_credential", None) or authenticated.credential
        if origin_allowed(credential, origin):
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        return response
