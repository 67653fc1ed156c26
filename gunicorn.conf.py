"""gunicorn settings, read from the environment (gunicorn loads this file by default)."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threaded workers: a client that sends its request slowly holds one thread, not a whole
# worker, so /healthz and everyone else still get answered. nginx (deploy/nginx.conf) buffers
# whole requests in production; these threads are the guard when nothing is in front.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A worker silent this long is restarted; keep-alive connections idle this long are closed.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
# Django writes one JSON access line per request with its request id (core.logging);
# gunicorn's plain-text one would repeat it without the id. GUNICORN_ACCESS_LOG=- restores it.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Request line and headers: what nginx's large_client_header_buffers (8k) lets through.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
