"""Create the benchmark database named by DATABASE_URL if it does not exist yet."""

import os
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

url = urlsplit(os.environ["DATABASE_URL"])
name = url.path.lstrip("/")
admin_url = url._replace(path="/postgres").geturl()
with psycopg.connect(admin_url, autocommit=True) as conn:
    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if not exists:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        print(f"created database {name}")
