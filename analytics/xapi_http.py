"""
The xAPI wire conventions shared by every xAPI resource, taken from the Statement
Resource's module so that all resources follow one set of rules: the version header in and
out (requests must send 1.0.x or 2.0.x, resolved to `request.xapi_version`), Basic auth and
the per-credential rate, DomainError → `{"code", "message", "details"?}` JSON, and compact
JSON bodies.
"""

from analytics.views import _json_response as json_response
from analytics.views import _xapi as xapi_handler

__all__ = ["json_response", "xapi_handler"]
