# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN apt-get update && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.lock ./
RUN python -m venv /opt/venv \
    && pip install --quiet "uv==$(sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements.lock)" \
    && uv pip sync --quiet --python /opt/venv/bin/python --require-hashes requirements.lock

COPY . .
RUN SECRET_KEY=collectstatic-only DATABASE_URL=postgres://build@localhost/build \
    python manage.py collectstatic --noinput \
    && useradd --create-home --uid 10001 frontline \
    && mkdir -p /app/var/media && chown -R frontline /app/var

USER frontline
EXPOSE 8000
CMD ["gunicorn", "config.wsgi"]
