"""
The floor under bench_xapi: a bare WSGI app (no Django, no validation, no auth) that
answers a POST of statements with their ids after one COPY of their JSON into a plain,
unindexed table, committed per request like the real store. Served by the same gunicorn
settings and hit by the same client threads, it shows the most any app that answers only
after a durable commit can reach on this machine against the COPY baseline.
"""

import json
import os

import psycopg

_connection = None


def application(environ, start_response):
    global _connection
    if _connection is None:
        _connection = psycopg.connect(os.environ["BARE_DATABASE_URL"], autocommit=True)
    if environ["REQUEST_METHOD"] != "POST":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    statements = json.loads(body)
    with (
        _connection.cursor() as cursor,
        cursor.copy("COPY bench_xapi_bare (doc) FROM STDIN") as copy,
    ):
        for statement in statements:
            copy.write_row((json.dumps(statement),))
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps([s["id"] for s in statements]).encode()]
