"""
The Alternate Request Syntax of xAPI 1.0.3 (Communication §1.3), for clients that can only
send POST (browsers posting across origins without CORS preflight).

The request is a POST whose only query parameter is `method` (the method it stands for), with
an `application/x-www-form-urlencoded` body: the header parameters (Authorization,
X-Experience-API-Version, Content-Type, Content-Length, If-Match, If-None-Match) as form
fields, the content as the `content` field, and every other field a parameter of the
resource. `alternate_request()` turns it into the request it stands for, which the views
then answer as if it had come that way; anything else in the query string, or a body
that is not a form, is a 400.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, QueryDict

from analytics.errors import RequestInvalidError

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Form fields that travel as headers, by their META names.
_HEADER_FIELDS = {
    "authorization": "HTTP_AUTHORIZATION",
    "x-experience-api-version": "HTTP_X_EXPERIENCE_API_VERSION",
    "content-type": "CONTENT_TYPE",
    "content-length": "CONTENT_LENGTH",
    "if-match": "HTTP_IF_MATCH",
    "if-none-match": "HTTP_IF_NONE_MATCH",
}


def removed_in_2_0() -> RequestInvalidError:
    """xAPI 2.0 has no alternate request syntax: a request of it that names version 2.0
    (as a header or a form field) is a 400."""
    return RequestInvalidError(
        "The alternate request syntax (POST ?method=…) is not part of xAPI 2.0.",
        parameter="method",
    )


def is_alternate(request: HttpRequest) -> bool:
    return request.method == "POST" and "method" in request.GET


def alternate_request(request: HttpRequest, *, methods: frozenset[str]) -> HttpRequest:
    """The request a POST `?method=…` stands for; RequestInvalidError (400) if it is not one
    of `methods` or is not written the way §1.3 says."""
    query = request.GET
    if set(query) != {"method"} or len(query.getlist("method")) != 1:
        raise RequestInvalidError(
            "The alternate request syntax takes only the method parameter in the query "
            "string; send everything else as form fields.",
            parameters=sorted(query),
        )
    method = query["method"].upper()
    if method not in methods:
        raise RequestInvalidError(
            f"method must be one of {', '.join(sorted(methods))}.", parameter="method"
        )
    if (request.content_type or "").lower() != FORM_CONTENT_TYPE:
        raise RequestInvalidError(
            f"The alternate request syntax sends its fields as {FORM_CONTENT_TYPE}.",
            content_type=request.content_type or "",
        )
    try:
        form = request.POST
    except RequestDataTooBig as exc:
        raise RequestInvalidError("The request body is too large.", code="too_large") from exc
    except TooManyFieldsSent as exc:
        raise RequestInvalidError("The form has too many fields.") from exc

    # The outer request's own Content-Type is the form's; the content's is a form field
    # (JSON unless it says otherwise).
    meta = dict(request.META, CONTENT_TYPE="application/json")
    parameters = QueryDict(mutable=True)
    content = ""
    for name, values in form.lists():
        if len(values) != 1:
            raise RequestInvalidError(f"The form field {name} is repeated.", parameter=name)
        header = _HEADER_FIELDS.get(name.lower())
        if header:
            meta[header] = values[0]
        elif name == "content":
            content = values[0]
        else:
            parameters[name] = values[0]
    body = content.encode()
    meta["CONTENT_LENGTH"] = str(len(body))
    meta["REQUEST_METHOD"] = method
    meta["QUERY_STRING"] = parameters.urlencode()

    inner = HttpRequest()
    inner.method = method
    inner.path, inner.path_info = request.path, request.path_info
    inner.META = meta
    inner.GET = parameters
    inner.resolver_match = request.resolver_match
    inner._body = body
    inner._set_content_type_params(meta)
    return inner
