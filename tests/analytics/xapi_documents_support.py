"""An HTTP client for the xAPI document resources: any method, raw bodies, query parameters."""

import base64
import hashlib
import json
from urllib.parse import urlencode

from django.test import Client

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


class DocumentClient:
    def __init__(self, key: str, secret: str, version: str | None = "1.0.3"):
        self.client = Client()
        self.headers = {
            "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
        }
        if version:
            self.headers["HTTP_X_EXPERIENCE_API_VERSION"] = version

    def request(self, method, path, params=None, body=None, *, content_type=None, headers=None):
        query = {
            name: json.dumps(value) if isinstance(value, dict | bool) else value
            for name, value in (params or {}).items()
        }
        url = f"{path}?{urlencode(query)}" if query else path
        extra = dict(self.headers)
        for name, value in (headers or {}).items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if value is None:
                extra.pop(key, None)
            else:
                extra[key] = value
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
