"""multipart/mixed statement requests, as xAPI clients write them, for the attachment tests."""

from __future__ import annotations

import hashlib
import json

BOUNDARY = "-------314159265358979323846"


def attachment(content: bytes, *, content_type: str = "text/plain", **extra) -> dict:
    """The attachment header a statement declares for `content`."""
    return {
        "usageType": "http://example.com/attachment-usage/test",
        "display": {"en-US": "A test attachment"},
        "contentType": content_type,
        "length": len(content),
        "sha2": hashlib.sha256(content).hexdigest(),
        **extra,
    }


def part(content: bytes, *, content_type: str = "text/plain", sha2: str | None = None, **headers):
    """One attachment part: (headers, content); headers=None drops a default header."""
    defaults = {
        "Content-Type": content_type,
        "Content-Transfer-Encoding": "binary",
        "X-Experience-API-Hash": sha2 or hashlib.sha256(content).hexdigest(),
    }
    for name, value in headers.items():
        defaults[name.replace("_", "-")] = value
    return {k: v for k, v in defaults.items() if v is not None}, content


def body(document, parts=(), *, boundary: str = BOUNDARY, first_type="application/json") -> bytes:
    """A multipart/mixed body: the statements (JSON, or raw bytes) first, then the parts."""
    first = document if isinstance(document, bytes) else json.dumps(document).encode()
    chunks = [f"--{boundary}\r\nContent-Type: {first_type}\r\n\r\n".encode(), first, b"\r\n"]
    for headers, content in parts:
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        chunks += [f"--{boundary}\r\n{lines}\r\n".encode(), content, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks)


def post(xapi, payload: bytes, *, boundary: str = BOUNDARY, path="/xapi/statements", put=False):
    content_type = f"multipart/mixed; boundary={boundary}" if boundary else "multipart/mixed"
    send = xapi.client.put if put else xapi.client.post
    return send(path, data=payload, content_type=content_type, **xapi.headers)


def parse_response(response) -> tuple[bytes, list[tuple[dict, bytes]]]:
    """(first part, [(headers, content), ...]) of a multipart/mixed answer, read strictly:
    CRLF line breaks, the boundary of the Content-Type header."""
    content_type = response["Content-Type"]
    assert content_type.startswith("multipart/mixed; boundary=")
    boundary = content_type.split("boundary=", 1)[1].encode()
    raw = response.content
    assert raw.startswith(b"--" + boundary + b"\r\n")
    assert raw.endswith(b"\r\n--" + boundary + b"--\r\n")
    inner = raw[len(boundary) + 4 : -(len(boundary) + 8)]
    sections = []
    for section in inner.split(b"\r\n--" + boundary + b"\r\n"):
        head, _, content = section.partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        sections.append((headers, content))
    (first_headers, first), *rest = sections
    assert first_headers["Content-Type"] == "application/json"
    return first, rest


def assert_refused(response, reason: str) -> None:
    """A 400 naming `reason`, with no statement and no attachment stored."""
    from analytics.models import Statement, StatementAttachment

    assert response.status_code == 400, response.content
    assert reason in response.json()["message"]
    assert Statement.objects.count() == 0
    assert StatementAttachment.objects.count() == 0
