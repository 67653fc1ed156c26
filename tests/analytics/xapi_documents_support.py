"""An HTTP client for the xAPI document resources: any method, raw bodies, query parameters."""

import hashlib
import json
from urllib.parse import urlencode

from tests.analytics.conftest import XapiClient

STATE = "/xapi/activities/state"
ACTIVITY_PROFILE = "/xapi/activities/profile"
AGENT_PROFILE = "/xapi/agents/profile"
ACTIVITIES = "/xapi/activities"
AGENTS = "/xapi/agents"
ACTIVITY_ID = "https://lessons.example.com/activities/returns-101"
AGENT = {"objectType": "Agent", "name": "Ada", "mbox": "mailto:ada@example.com"}


def sha1(content: bytes) -> str:
    return hashlib.sha1(content, usedforsecurity=False).hexdigest()


def state_params(**overrides):
    params = {"activityId": ACTIVITY_ID, "agent": AGENT, "stateId": "bookmark"}
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


class DocumentClient(XapiClient):
    """XapiClient's version header and Basic auth, for any method, path and raw body."""

    def request(self, method, path, params=None, body=None, *, content_type=None, headers=None):
        query = {
            name: json.dumps(value) if isinstance(value, dict | bool) else value
            for name, value in (params or {}).items()
        }
        url = f"{path}?{urlencode(query)}" if query else path
        extra = self._headers(headers)
        if isinstance(body, dict | list):
            body = json.dumps(body).encode()
            content_type = content_type or "application/json"
        return self.client.generic(
            method,
            url,
            body or b"",
            content_type=content_type or "application/octet-stream",
            **extra,
        )

    def put(self, path, params, body, **kwargs):
        return self.request("PUT", path, params, body, **kwargs)

    def post(self, path, params, body, **kwargs):
        return self.request("POST", path, params, body, **kwargs)

    def get(self, path, params=None, **kwargs):
        return self.request("GET", path, params, **kwargs)

    def head(self, path, params=None, **kwargs):
        return self.request("HEAD", path, params, **kwargs)

    def delete(self, path, params, **kwargs):
        return self.request("DELETE", path, params, **kwargs)
