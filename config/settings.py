"""
Frontline settings: one module, driven by environment variables only.

Without any variable set, Frontline runs in its *embedded* mode: SQLite, Celery on
kombu's filesystem transport, a local-memory cache and local sink channels. Setting
DATABASE_URL (PostgreSQL) and REDIS_URL (broker, cache, streams) gives the production
shape; production refuses to start without a SECRET_KEY.

Reference: https://docs.djangoproject.com/en/5.2/ref/settings/
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("FRONTLINE_VAR_DIR", str(BASE_DIR / "var")))

# SECTION: mode -------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
EMBEDDED = not DATABASE_URL
DEBUG = env_bool("DEBUG", default=False)

_INSECURE_DEV_KEY = "django-insecure-embedded-mode-only-never-in-production"
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if EMBEDDED or DEBUG:
        SECRET_KEY = _INSECURE_DEV_KEY
    else:
        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL is set (production).")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# SECTION: applications -----------------------------------------------------------------

DOMAIN_APPS = [
    "learners",
    "lessons",
    "assessments",
    "delivery",
    "analytics",
    "gift_cards",
    "returns",
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_celery_results",
    "django_fsm",
    "corsheaders",
    "csp",
    # Auth: login lockouts and refresh-token revocation.
    "axes",
    "rest_framework_simplejwt.token_blacklist",
    "core",
    *DOMAIN_APPS,
]

MIDDLEWARE = [
    "core.logging.RequestIdMiddleware",
    "core.outages.DependencyUnavailableMiddleware",
    # The web tier's guards (SECTION "input limits, CORS, CSP" below): CORS headers on /api/
    # (refusals included), malformed input refused before anything parses it, and the
    # Content-Security-Policy header on pages.
    "corsheaders.middleware.CorsMiddleware",
    # /xapi/: CORS per xAPI credential (analytics.cors; preflights answered before any view).
    "analytics.cors.XapiCorsMiddleware",
    "core.input.InputValidationMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Auth: last, as django-axes asks (turns a lockout flagged on the request into a 429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SECTION: database ---------------------------------------------------------------------
# Persistent connections: a fresh PostgreSQL connection per request cut a one-query view
# from ~1,450 to ~105 requests/s on these machines.

if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("CONN_MAX_AGE", 600),
            conn_health_checks=True,
        )
    }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "frontline.sqlite3",
            # Web, worker and beat share the file: WAL lets readers run beside one writer,
            # IMMEDIATE transactions take the write lock up front instead of failing late.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# SECTION: cache ------------------------------------------------------------------------

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "frontline"),
            # Without timeouts a Redis that stops answering (rather than refusing) would
            # hold every request that touches the cache forever.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# SECTION: auth -------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
# django-axes first: it refuses a locked-out account or address before any password check.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# How many reverse proxies of ours stand in front of the web process. The client address
# (core.net.client_ip) is taken from X-Forwarded-For only through that many hops; 0 (the
# default): REMOTE_ADDR only, the header is ignored. Every throttle and lockout uses it, and
# so must any log line that records a client address.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# Login lockouts (django-axes; seed 000: 5 failures in 20 minutes) for the JWT token
# endpoint and the admin login, per account and, separately, per client address.
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
AXES_ENABLED = env_bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env_int("LOGIN_LOCKOUT_THRESHOLD", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 20))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "core.net.axes_client_ip"
AXES_USERNAME_CALLABLE = "core.lockouts.axes_username"
AXES_LOCKOUT_CALLABLE = "core.lockouts.axes_lockout_response"
AXES_RESET_ON_SUCCESS = False
AXES_VERBOSE = False

# SECTION: i18n and time ----------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# SECTION: static files (served by WhiteNoise, no CDN anywhere) -------------------------

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not (EMBEDDED or DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Embedded mode and DEBUG serve straight from the apps' static folders, no collectstatic.
WHITENOISE_USE_FINDERS = EMBEDDED or DEBUG
if WHITENOISE_USE_FINDERS:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"

# SECTION: security ---------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/

_PRODUCTION = not (EMBEDDED or DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=_PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=_PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=_PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if _PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _PRODUCTION
SECURE_HSTS_PRELOAD = _PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# SECTION: input limits, CORS, CSP (the web tier's guards; README "Web tier") ----------

# Request bodies Django reads into memory (nginx's client_max_body_size in deploy/nginx.conf
# is the same 2.5 MB), and the deepest JSON nesting core.input accepts in a body or query.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
REQUEST_MAX_JSON_DEPTH = env_int("REQUEST_MAX_JSON_DEPTH", 32)
# core.input's 400s by path prefix: xAPI answers with its own error code and version header.
REQUEST_REFUSAL_OVERRIDES = {
    "/xapi/": {"code": "invalid_request", "headers": {"X-Experience-API-Version": "1.0.3"}}
}

# CORS (django-cors-headers), on /api/ only: browsers on these origins may call the API
# (e.g. "https://shop.example,https://app.example"); none by default. /xapi/ is left to its
# own per-credential origins (analytics.cors). https://github.com/adamchainz/django-cors-headers
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False
CORS_EXPOSE_HEADERS = ["Retry-After", "X-Request-ID"]
CORS_PREFLIGHT_MAX_AGE = 600

# Content-Security-Policy (django-csp 4): self-hosted scripts, styles, fonts and images only,
# no inline script or style anywhere (the dashboard's Chart.js is vendored; templates keep
# their CSS in static files), no framing. The API docs pages (drf-spectacular's Swagger UI
# and ReDoc templates start their bundles from an inline script) are left out.
# https://django-csp.readthedocs.io/en/latest/configuration.html

CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/api/docs/", "/api/redoc/"],
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# SECTION: error reporting (Sentry, when SENTRY_DSN is set; events scrubbed like logs) -----

SENTRY_DSN = env_str("SENTRY_DSN")
if SENTRY_DSN:
    from core import sentry as _sentry

    _sentry.init(
        dsn=SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT", "production"),
        release=env_str("SENTRY_RELEASE") or None,
        traces_sample_rate=float(env_str("SENTRY_TRACES_SAMPLE_RATE", "0")),
    )

# SECTION: email ------------------------------------------------------------------------

# EMAIL_URL (smtp://user:password@host:587?tls=true, smtps:// for SSL) or the EMAIL_* parts.
# With no host configured, the email channel delivers to the local sink.
EMAIL_URL = env_str("EMAIL_URL")
_email = urlsplit(EMAIL_URL) if EMAIL_URL else None
_email_query = parse_qs(_email.query) if _email else {}
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = (_email.hostname if _email else None) or env_str("EMAIL_HOST")
EMAIL_PORT = (_email.port if _email else None) or env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = unquote(_email.username or "") if _email else env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = unquote(_email.password or "") if _email else env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = (
    _email_query.get("tls", ["false"])[0] == "true" if _email else env_bool("EMAIL_USE_TLS")
)
EMAIL_USE_SSL = bool(_email and _email.scheme == "smtps") or env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Frontline <frontline@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# SECTION: REST API ---------------------------------------------------------------------

REST_FRAMEWORK = {
    # JWT first: its WWW-Authenticate header makes an anonymous call a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.DefaultPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "core.api.filters.FilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    # Keyed on core.net.client_ip (NUM_PROXIES agrees for any DRF code that reads it);
    # limiting per process while Redis is unreachable.
    "DEFAULT_THROTTLE_CLASSES": [
        "core.api.throttling.AnonRateThrottle",
        "core.api.throttling.UserRateThrottle",
    ],
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("THROTTLE_ANON", "60/min"),
        "user": env_str("THROTTLE_USER", "1200/min"),
        # seed 000 §8: 5 sign-ups per hour per client address.
        "registration": env_str("THROTTLE_REGISTRATION", "5/hour"),
        # Each request emails an order's address: a few an hour per signed-in user.
        "customer_access": env_str("THROTTLE_CUSTOMER_ACCESS", "5/hour"),
    },
    # drf-spectacular's, plus the error responses each operation can answer.
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.FrontlineAutoSchema",
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# Short-lived access tokens; refresh tokens rotate on use and the used one is blacklisted.
# Logout blacklists a refresh token; a password change or deactivation blacklists them all
# (core.tokens), and the password-hash claim refuses any token minted before a change.
SIMPLE_JWT = {
    "SIGNING_KEY": env_str("JWT_SIGNING_KEY", SECRET_KEY),
    "UPDATE_LAST_LOGIN": True,
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 5)),
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=env_int("JWT_REFRESH_HOURS", 24)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "CHECK_REVOKE_TOKEN": True,
    "TOKEN_REFRESH_SERIALIZER": "core.tokens.TokenRefreshSerializer",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Frontline API",
    "DESCRIPTION": "Microlessons, learning records, gift cards and returns.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's JS/CSS come from drf-spectacular-sidecar: the docs page works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The API is documented as JSON: form encodings cannot carry its nested bodies.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
}

# SECTION: Celery -----------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://localhost//")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Redis holds a delivered, unacknowledged message (acks_late) for this long before
    # giving it to another worker: a killed worker's tasks come back within minutes, not
    # kombu's default hour. Keep it above the task time limit and the longest countdown a
    # task retries with (outbox dispatch: 300 s), or a running task is handed out twice.
    # Workers look for such messages every RESTORE_INTERVAL x RESTORE_THROTTLE seconds
    # (kombu's defaults, 10 x 10, would add up to 100 s).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT_SECONDS", 600),
        "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL_SECONDS", 10),
        "unacked_restore_throttle": env_int("CELERY_UNACKED_RESTORE_THROTTLE", 3),
    }
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = 7 * 24 * 3600
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 2)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# Routing by the stable task name's prefix keeps queues independent of module layout.
CELERY_TASK_ROUTES = {
    "delivery.*": {"queue": "deliveries"},
    "analytics.etl.*": {"queue": "etl"},
    "analytics.reports.*": {"queue": "reports"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Keep Django's LOGGING (JSON lines with request ids) in worker and beat too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE: dict = {
    # Every 5 seconds: push committed outbox events to the stream.
    "core-outbox-publish": {"task": "core.outbox_publish", "schedule": 5.0},
    # Every minute: re-dispatch outbox handler runs still owed after their grace period.
    "core-outbox-sweep": {"task": "core.outbox_sweep", "schedule": crontab()},
    # Every 30 seconds: beat's heartbeat, shown by /healthz and the dashboard.
    "core-beat-heartbeat": {"task": "core.heartbeat", "schedule": 30.0},
    # Daily at 03:15 UTC: drop job-run rows and published outbox rows past retention.
    "core-prune": {"task": "core.prune", "schedule": crontab(minute=15, hour=3)},
}

# SECTION: outbox and streams ----------------------------------------------------------

OUTBOX_STREAM = env_str("OUTBOX_STREAM", "frontline:events")
OUTBOX_STREAM_MAXLEN = env_int("OUTBOX_STREAM_MAXLEN", 1_000_000)
OUTBOX_BATCH_SIZE = env_int("OUTBOX_BATCH_SIZE", 500)
OUTBOX_RETENTION_DAYS = env_int("OUTBOX_RETENTION_DAYS", 14)
# Handler runs still without a ProcessedEvent this long after their event was published are
# re-dispatched by the sweep (then after 2x, 4x ... the grace, at most hourly); events the
# sweep checks per run.
OUTBOX_HANDLER_GRACE_SECONDS = env_int("OUTBOX_HANDLER_GRACE_SECONDS", 120)
OUTBOX_SWEEP_BATCH = env_int("OUTBOX_SWEEP_BATCH", 1000)
JOB_RUN_RETENTION_DAYS = env_int("JOB_RUN_RETENTION_DAYS", 90)

# SECTION: resilience and health -------------------------------------------------------
# A request that fails because PostgreSQL, Redis or the broker is down answers 503 with
# this Retry-After (seconds). Rate limiters that lose Redis limit per process and try Redis
# again after this many seconds.
DEPENDENCY_RETRY_AFTER_SECONDS = env_int("DEPENDENCY_RETRY_AFTER_SECONDS", 10)
RATE_LIMIT_REDIS_RETRY_SECONDS = float(env_str("RATE_LIMIT_REDIS_RETRY_SECONDS", "2"))
# Long-running loops (manage.py etl_consume) wait this long after a lost connection,
# doubling per failed attempt up to the maximum (seconds).
RECONNECT_INITIAL_SECONDS = float(env_str("RECONNECT_INITIAL_SECONDS", "0.5"))
RECONNECT_MAX_SECONDS = float(env_str("RECONNECT_MAX_SECONDS", "30"))
# /healthz: beat's heartbeat (every 30 s) older than this is "stale" and fails the check;
# the window of the web tier's 5xx share, and how often each process adds its response
# counts to Redis.
HEALTH_BEAT_STALE_SECONDS = env_int("HEALTH_BEAT_STALE_SECONDS", 120)
HEALTH_ERROR_RATE_MINUTES = env_int("HEALTH_ERROR_RATE_MINUTES", 5)
METRICS_FLUSH_SECONDS = float(env_str("METRICS_FLUSH_SECONDS", "5"))

# SECTION: providers (the *_API_URL overrides point an SDK at another base URL) --------

SLACK_BOT_TOKEN = env_str("SLACK_BOT_TOKEN")
SLACK_SIGNING_SECRET = env_str("SLACK_SIGNING_SECRET")
SLACK_API_URL = env_str("SLACK_API_URL")
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER")
TWILIO_API_URL = env_str("TWILIO_API_URL")
LESSON_GENERATOR_URL = env_str("LESSON_GENERATOR_URL")
PAYMENTS_API_URL = env_str("PAYMENTS_API_URL")
ETL_MODE = env_str("ETL_MODE", "incremental")
if ETL_MODE not in {"incremental", "streaming"}:
    raise ImproperlyConfigured("ETL_MODE must be 'incremental' or 'streaming'.")

# SECTION: logging (structured JSON on stdout, with the request id) ---------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("LOG_FORMAT", "json")
ACCESS_LOG = env_bool("ACCESS_LOG", default=True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "core.logging.RequestIdFilter"},
        # Every handler: codes and tokens never reach a log line (README, "Secrets").
        "scrub_secrets": {"()": "core.logging.SecretScrubFilter"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "console": {"format": "%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT if LOG_FORMAT in {"json", "console"} else "json",
            "filters": ["request_id", "scrub_secrets"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One JSON line per request with its request id (core.logging); gunicorn's own
        # access log is off (GUNICORN_ACCESS_LOG turns it back on).
        "frontline.access": {"level": LOG_LEVEL if ACCESS_LOG else "WARNING"},
        "celery": {"level": LOG_LEVEL},
    },
}

# SECTION: gift_cards -------------------------------------------------------------------
# Codes are stored as HMAC-SHA256 under this key; set it in production so rotating
# SECRET_KEY does not make every card unfindable (empty: derived from SECRET_KEY).
GIFT_CARD_CODE_KEY = env_str("GIFT_CARD_CODE_KEY")
GIFT_CARD_CURRENCIES = env_list("GIFT_CARD_CURRENCIES", ["USD", "EUR", "GBP", "CAD", "JPY", "KWD"])
# Largest amount on one card, per currency ("*" for the rest): "USD:2000,JPY:300000".
GIFT_CARD_MAX_AMOUNTS = dict(
    item.split(":", 1)
    for item in env_list(
        "GIFT_CARD_MAX_AMOUNTS", ["*:2000", "JPY:300000", "KWD:600", "USD:2000", "EUR:2000"]
    )
)
GIFT_CARD_VALIDITY_DAYS = env_int("GIFT_CARD_VALIDITY_DAYS", 365)
GIFT_CARD_BULK_MAX = env_int("GIFT_CARD_BULK_MAX", 10_000)
# Requests that take a code, per account and (higher: a store's tills share one address)
# per client address (token buckets shared via Redis).
GIFT_CARD_CODE_RATE_PER_MINUTE = env_int("GIFT_CARD_CODE_RATE_PER_MINUTE", 30)
GIFT_CARD_CODE_BURST = env_int("GIFT_CARD_CODE_BURST", 10)
GIFT_CARD_CODE_ADDRESS_RATE_PER_MINUTE = env_int("GIFT_CARD_CODE_ADDRESS_RATE_PER_MINUTE", 300)
GIFT_CARD_CODE_ADDRESS_BURST = env_int("GIFT_CARD_CODE_ADDRESS_BURST", 100)
# Brute-force lockout: this many invalid codes within the window lock out the account and
# the card aimed at (prefix + last four); the address has its own, higher threshold.
GIFT_CARD_LOCKOUT_THRESHOLD = env_int("GIFT_CARD_LOCKOUT_THRESHOLD", 5)
GIFT_CARD_ADDRESS_LOCKOUT_THRESHOLD = env_int("GIFT_CARD_ADDRESS_LOCKOUT_THRESHOLD", 50)
GIFT_CARD_LOCKOUT_WINDOW_SECONDS = env_int("GIFT_CARD_LOCKOUT_WINDOW_SECONDS", 900)
GIFT_CARD_LOCKOUT_SECONDS = env_int("GIFT_CARD_LOCKOUT_SECONDS", 900)
# Hourly at minute 7: expire cards past their expiry date.
CELERY_BEAT_SCHEDULE["gift_cards-expire-overdue"] = {
    "task": "gift_cards.expire_overdue",
    "schedule": crontab(minute=7),
}

# SECTION: delivery ---------------------------------------------------------------------
# Signs webhook deliveries (X-Frontline-Signature); unset: webhook targets go to the sink.
DELIVERY_WEBHOOK_SECRET = env_str("DELIVERY_WEBHOOK_SECRET")
# Absolute base URL providers call back (Twilio status callbacks, email answer links); Twilio
# signs the exact URL it called, so behind a proxy this must be the public one.
DELIVERY_PUBLIC_BASE_URL = env_str("DELIVERY_PUBLIC_BASE_URL", "http://localhost:8000")
# After the preferred channel, the order the router falls back in.
DELIVERY_FALLBACK_ORDER = env_list("DELIVERY_FALLBACK_ORDER", ["slack", "email", "sms"])
# Temporary errors: seconds before retry 1, 2, 3 (seed 004); then the task is dead-lettered.
DELIVERY_RETRY_DELAYS = [int(s) for s in env_list("DELIVERY_RETRY_DELAYS", ["300", "900", "3600"])]
# Provider rate limits held across all workers (messages per second per key; 0 = off):
# Slack per channel/user, Twilio per sender number, SMTP and webhooks per host.
DELIVERY_RATE_LIMITS = {
    "slack": float(env_str("DELIVERY_RATE_SLACK", "1")),
    "sms": float(env_str("DELIVERY_RATE_SMS", "1")),
    "email": float(env_str("DELIVERY_RATE_EMAIL", "0")),
    "webhook": float(env_str("DELIVERY_RATE_WEBHOOK", "0")),
}
# How long a sender waits for a rate-limit slot before putting the task back for later.
DELIVERY_RATE_WAIT_SECONDS = float(env_str("DELIVERY_RATE_WAIT_SECONDS", "5"))
DELIVERY_SKIP_WEEKENDS = env_bool("DELIVERY_SKIP_WEEKENDS", default=False)
DELIVERY_DRAIN_BATCH = env_int("DELIVERY_DRAIN_BATCH", 200)
# Reminders (seed 002 a.06): first after N minutes, then every N minutes, at most M, only
# between the waking hours (learner's local time); then the learner is paused until RESUME.
DELIVERY_REMINDER_AFTER_MINUTES = env_int("DELIVERY_REMINDER_AFTER_MINUTES", 120)
DELIVERY_REMINDER_MAX = env_int("DELIVERY_REMINDER_MAX", 3)
DELIVERY_WAKING_HOURS = (
    env_str("DELIVERY_WAKING_START", "08:00"),
    env_str("DELIVERY_WAKING_END", "20:00"),
)
DELIVERY_NOTIFY_MANAGER = env_bool("DELIVERY_NOTIFY_MANAGER", default=True)
# Contact budget per learner per local day, across every kind of message.
DELIVERY_DAILY_BUDGET = env_int("DELIVERY_DAILY_BUDGET", 4)
DELIVERY_DAILY_SMS_BUDGET = env_int("DELIVERY_DAILY_SMS_BUDGET", 2)
# Email answer links: signed, single use, valid this many hours.
DELIVERY_ANSWER_LINK_HOURS = env_int("DELIVERY_ANSWER_LINK_HOURS", 72)
# Slack interactivity: requests older than this are refused (replay window).
DELIVERY_SLACK_MAX_AGE_SECONDS = env_int("DELIVERY_SLACK_MAX_AGE_SECONDS", 300)
# Provider circuit breakers (seed 000's policy), one per channel and one per webhook host:
# open when, over the window, at least MINIMUM_CALLS calls were made and FAILURE_RATE of
# them failed (5xx, timeouts, connection errors); half-open after RESET_SECONDS. Due tasks
# of an open breaker are deferred until then without spending a retry.
DELIVERY_BREAKER_FAILURE_RATE = float(env_str("DELIVERY_BREAKER_FAILURE_RATE", "0.5"))
DELIVERY_BREAKER_MINIMUM_CALLS = env_int("DELIVERY_BREAKER_MINIMUM_CALLS", 5)
DELIVERY_BREAKER_WINDOW_SECONDS = env_int("DELIVERY_BREAKER_WINDOW_SECONDS", 60)
DELIVERY_BREAKER_RESET_SECONDS = env_int("DELIVERY_BREAKER_RESET_SECONDS", 30)
# A send recorded in flight for longer than this (default: the task time limit) lost its
# worker: it is sent again and its task flagged "possible duplicate".
DELIVERY_IN_FLIGHT_TIMEOUT_SECONDS = env_int(
    "DELIVERY_IN_FLIGHT_TIMEOUT_SECONDS", CELERY_TASK_TIME_LIMIT
)
# Tasks in transit (accepted, no delivery report yet) longer than this are reconciled:
# Twilio's status is fetched; other channels count as delivered once accepted.
DELIVERY_IN_TRANSIT_DEADLINE_SECONDS = env_int("DELIVERY_IN_TRANSIT_DEADLINE_SECONDS", 3600)
# Draining: this many drain chains at most (one per worker process is right), each sending
# for up to BATCH_SECONDS (or DELIVERY_DRAIN_BATCH tasks) before it re-queues itself.
DELIVERY_DRAIN_CONCURRENCY = env_int("DELIVERY_DRAIN_CONCURRENCY", 4)
DELIVERY_DRAIN_BATCH_SECONDS = env_int("DELIVERY_DRAIN_BATCH_SECONDS", 30)
# Every 5 minutes: reconcile tasks stuck in transit past their deadline.
CELERY_BEAT_SCHEDULE["delivery-reconcile-in-transit"] = {
    "task": "delivery.reconcile_in_transit",
    "schedule": crontab(minute="*/5"),
}
# Every 5 minutes: plan today's lessons for learners whose local send time has come.
CELERY_BEAT_SCHEDULE["delivery-plan-dispatch"] = {
    "task": "delivery.plan_dispatch",
    "schedule": crontab(minute="*/5"),
}
# Every minute: send what is due (new tasks, retries whose time has come).
CELERY_BEAT_SCHEDULE["delivery-drain"] = {"task": "delivery.drain", "schedule": crontab()}
# Every 15 minutes: reminders for unanswered lessons.
CELERY_BEAT_SCHEDULE["delivery-send-reminders"] = {
    "task": "delivery.send_reminders",
    "schedule": crontab(minute="*/15"),
}

# SECTION: learners, lessons, assessments -----------------------------------------------

# The path template (by slug) every registration enrols the new learner in.
ONBOARDING_PATH_SLUG = env_str("ONBOARDING_PATH_SLUG", "onboarding")
# Lesson generator client (seed 000 §4): per-attempt timeout, attempts, and the shared
# circuit breaker (opens after N failed calls, tries again after the reset window).
LESSON_GENERATOR_TIMEOUT_SECONDS = float(env_str("LESSON_GENERATOR_TIMEOUT_SECONDS", "10"))
LESSON_GENERATOR_ATTEMPTS = env_int("LESSON_GENERATOR_ATTEMPTS", 3)
LESSON_GENERATOR_BREAKER_THRESHOLD = env_int("LESSON_GENERATOR_BREAKER_THRESHOLD", 5)
LESSON_GENERATOR_BREAKER_RESET_SECONDS = env_int("LESSON_GENERATOR_BREAKER_RESET_SECONDS", 60)
# Spaced review of missed questions: days to wait in Leitner boxes 1, 2 and 3.
REVIEW_INTERVAL_DAYS = [int(d) for d in env_list("REVIEW_INTERVAL_DAYS", ["1", "3", "7"])]
# Recommendations (seed 003 Task 1 on topics): the weight of each interaction type in a
# learner's profile ("delivered:1,started:2,completed:4,saved:3"), the blend of the hybrid
# strategy ("collaborative:0.5,content_based:0.3,popularity:0.2"), how long computed
# recommendations are cached (seconds), the co-occurrence window (hours), how long a cold
# request waits for another process computing the same learner's list (seconds), and the
# score multiplier per difficulty level a topic sits above the learner's knowledge level.
RECOMMENDATIONS_WEIGHTS = {
    _name.strip(): float(_value)
    for _name, _, _value in (
        _pair.partition(":")
        for _pair in env_list(
            "RECOMMENDATIONS_WEIGHTS", ["delivered:1", "started:2", "completed:4", "saved:3"]
        )
    )
}
RECOMMENDATIONS_HYBRID_BLEND = {
    _name.strip(): float(_value)
    for _name, _, _value in (
        _pair.partition(":")
        for _pair in env_list(
            "RECOMMENDATIONS_HYBRID_BLEND",
            ["collaborative:0.5", "content_based:0.3", "popularity:0.2"],
        )
    )
}
RECOMMENDATIONS_CACHE_SECONDS = env_int("RECOMMENDATIONS_CACHE_SECONDS", 3600)
RECOMMENDATIONS_WINDOW_HOURS = env_int("RECOMMENDATIONS_WINDOW_HOURS", 720)
RECOMMENDATIONS_LOCK_WAIT_SECONDS = float(env_str("RECOMMENDATIONS_LOCK_WAIT_SECONDS", "2"))
RECOMMENDATIONS_LEVEL_PENALTY = float(env_str("RECOMMENDATIONS_LEVEL_PENALTY", "0.5"))
# Topics in the path a learner is enrolled in when they finish their last open path.
RECOMMENDATIONS_PATH_TOPICS = env_int("RECOMMENDATIONS_PATH_TOPICS", 5)
CELERY_TASK_ROUTES["recommendations.*"] = {"queue": "recommendations"}
# Nightly at 02:30 UTC: recompute content similarity of every topic (tags, difficulty, text).
CELERY_BEAT_SCHEDULE["recommendations-calculate-similarity"] = {
    "task": "recommendations.calculate_similarity",
    "schedule": crontab(minute=30, hour=2),
}
# Hourly at minute 20: rebuild the co-occurrence matrix over the window.
CELERY_BEAT_SCHEDULE["recommendations-update-cooccurrence"] = {
    "task": "recommendations.update_cooccurrence",
    "schedule": crontab(minute=20),
}
# Every 15 minutes: issue completion rewards pending budget whose cohort's budget now allows.
CELERY_BEAT_SCHEDULE["lessons-issue-pending-rewards"] = {
    "task": "lessons.issue_pending_rewards",
    "schedule": crontab(minute="*/15"),
}
# One OpenAPI enum name per choice set the learning apps share (difficulty/knowledge level,
# learner channels, answer channels).
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "LevelEnum": "lessons.models.Difficulty",
        "LearnerChannelEnum": "learners.models.Channel",
        "AnswerChannelEnum": "assessments.models.AnswerChannel",
        # returns.ReturnItem.ExpectedCondition (nested, so named by its values)
        "ExpectedConditionEnum": [("new", "New"), ("opened", "Opened"), ("damaged", "Damaged")],
    }
)

# SECTION: identities (registration claims, contact proofs, customer access links) ------
# Codes emailed to claim a roster entry and texted / Slack-DMed to prove a new phone or
# Slack id: minutes valid, wrong tries before the code is void. Customer access links
# (emailed to an order's address): hours valid, and the page the link opens, where
# "{token}" is replaced (the storefront's page that POSTs it to
# /api/v1/returns/access/confirm/ for the signed-in customer).
IDENTITY_CODE_MINUTES = env_int("IDENTITY_CODE_MINUTES", 15)
IDENTITY_CODE_MAX_ATTEMPTS = env_int("IDENTITY_CODE_MAX_ATTEMPTS", 5)
RETURNS_ACCESS_LINK_HOURS = env_int("RETURNS_ACCESS_LINK_HOURS", 24)
RETURNS_ACCESS_LINK_URL = env_str(
    "RETURNS_ACCESS_LINK_URL", "http://localhost:8000/returns/access/?token={token}"
)

# SECTION: returns ---------------------------------------------------------------------
# Policy: window counted from delivery, per-category windows ("electronics=15,furniture=60"),
# categories never taken back, the value under which the customer keeps the item (a
# "returnless" refund), the store-credit bonus and the default restocking fee (percent),
# and the percent deducted on receipt per actual condition (customer-fault returns only).

RETURNS_WINDOW_DAYS = env_int("RETURNS_WINDOW_DAYS", 30)
RETURNS_CATEGORY_WINDOW_DAYS = {
    _category.strip(): int(_days)
    for _category, _, _days in (
        _pair.partition("=")
        for _pair in env_list("RETURNS_CATEGORY_WINDOW_DAYS", ["electronics=15"])
    )
}
RETURNS_NON_RETURNABLE_CATEGORIES = env_list(
    "RETURNS_NON_RETURNABLE_CATEGORIES", ["gift_cards", "final_sale", "perishables"]
)
RETURNS_RETURNLESS_THRESHOLD_AMOUNT = env_str("RETURNS_RETURNLESS_THRESHOLD_AMOUNT", "5.00")
RETURNS_STORE_CREDIT_BONUS_PERCENT = env_str("RETURNS_STORE_CREDIT_BONUS_PERCENT", "10")
RETURNS_RESTOCKING_FEE_PERCENT = env_str("RETURNS_RESTOCKING_FEE_PERCENT", "0")
RETURNS_CONDITION_ADJUSTMENT_PERCENT = {
    "sellable": env_str("RETURNS_DEDUCT_SELLABLE_PERCENT", "0"),
    "damaged": env_str("RETURNS_DEDUCT_DAMAGED_PERCENT", "50"),
    "unsellable": env_str("RETURNS_DEDUCT_UNSELLABLE_PERCENT", "100"),
}
# Refunds to the original payment (PAYMENTS_API_URL above): per-call timeout and retries;
# a refund left "in progress" this long is taken to be abandoned and retried by beat.
PAYMENTS_API_KEY = env_str("PAYMENTS_API_KEY")
RETURNS_PAYMENTS_TIMEOUT_SECONDS = float(env_str("RETURNS_PAYMENTS_TIMEOUT_SECONDS", "10"))
RETURNS_PAYMENTS_RETRY_ATTEMPTS = env_int("RETURNS_PAYMENTS_RETRY_ATTEMPTS", 3)
RETURNS_PAYMENTS_RETRY_INITIAL_SECONDS = float(
    env_str("RETURNS_PAYMENTS_RETRY_INITIAL_SECONDS", "0.5")
)
RETURNS_REFUND_STALE_MINUTES = env_int("RETURNS_REFUND_STALE_MINUTES", 10)
RETURNS_REFUND_MAX_ATTEMPTS = env_int("RETURNS_REFUND_MAX_ATTEMPTS", 10)
# Order events webhook (/webhooks/orders/): HMAC-SHA256 shared secret and allowed clock skew.
RETURNS_ORDER_WEBHOOK_SECRET = env_str("RETURNS_ORDER_WEBHOOK_SECRET")
RETURNS_ORDER_WEBHOOK_TOLERANCE_SECONDS = env_int("RETURNS_ORDER_WEBHOOK_TOLERANCE_SECONDS", 300)
# Key of the audit log's hash chain (defaults to SECRET_KEY; rotate only with a re-chain).
RETURNS_AUDIT_KEY = env_str("RETURNS_AUDIT_KEY", SECRET_KEY)
RETURNS_CARRIER_CLIENT = env_str("RETURNS_CARRIER_CLIENT", "returns.shipping.LocalCarrierClient")
RETURNS_WAREHOUSE_ADDRESS = env_str(
    "RETURNS_WAREHOUSE_ADDRESS", "Frontline Returns\n1 Dock Road\nSpringfield 00000"
).replace("\\n", "\n")
# Every 10 minutes: retry refunds that failed or were abandoned mid-flight.
CELERY_BEAT_SCHEDULE["returns-retry-refunds"] = {
    "task": "returns.retry_refunds",
    "schedule": crontab(minute="*/10"),
}

# SECTION: analytics --------------------------------------------------------------------
# xAPI learning record store: IRIs of Frontline's own actors/activities/extensions, the
# largest POST batch and GET page, and how long a process trusts a cached credential
# (a revoked credential stops working everywhere within this many seconds).
XAPI_BASE_IRI = env_str("XAPI_BASE_IRI", "https://frontline.example").rstrip("/")
XAPI_MAX_BATCH = env_int("XAPI_MAX_BATCH", 1000)
# From this many statements a POST is stored by COPY, below it by one INSERT (faster there).
XAPI_COPY_MIN_BATCH = env_int("XAPI_COPY_MIN_BATCH", 20)
XAPI_PAGE_SIZE_MAX = env_int("XAPI_PAGE_SIZE_MAX", 500)
# Largest raw attachment (multipart/mixed part) stored, in bytes; the whole request is also
# bounded by DATA_UPLOAD_MAX_MEMORY_SIZE (and nginx's client_max_body_size).
XAPI_ATTACHMENT_MAX_BYTES = env_int("XAPI_ATTACHMENT_MAX_BYTES", 2_097_152)
# With attachments=true a page of statements ends early rather than carry more than this
# many bytes of attachments (it still holds at least one statement).
XAPI_ATTACHMENTS_RESPONSE_MAX_BYTES = env_int("XAPI_ATTACHMENTS_RESPONSE_MAX_BYTES", 20_971_520)
XAPI_CREDENTIAL_CACHE_SECONDS = env_int("XAPI_CREDENTIAL_CACHE_SECONDS", 30)
# Key of the HMAC under which client secrets are stored (empty: SECRET_KEY).
XAPI_CREDENTIAL_KEY = env_str("XAPI_CREDENTIAL_KEY") or SECRET_KEY
# Wrong secrets: this many within the window lock out the key, and (its own threshold) the
# client address, for XAPI_LOCKOUT_SECONDS (seed 000: 5 in 20 minutes).
XAPI_LOCKOUT_THRESHOLD = env_int("XAPI_LOCKOUT_THRESHOLD", 5)
XAPI_ADDRESS_LOCKOUT_THRESHOLD = env_int("XAPI_ADDRESS_LOCKOUT_THRESHOLD", 20)
XAPI_LOCKOUT_WINDOW_SECONDS = env_int("XAPI_LOCKOUT_WINDOW_SECONDS", 1200)
XAPI_LOCKOUT_SECONDS = env_int("XAPI_LOCKOUT_SECONDS", 1200)
# Document resources (State, Activity/Agent Profile): the largest document stored (413
# beyond; keep it below DATA_UPLOAD_MAX_MEMORY_SIZE, Django's own ceiling), and how many
# of an activity's or agent's newest statements the Activities and Agents resources merge
# into a canonical definition / Person object.
XAPI_DOCUMENT_MAX_BYTES = env_int("XAPI_DOCUMENT_MAX_BYTES", 1_048_576)
XAPI_DEFINITION_SCAN_STATEMENTS = env_int("XAPI_DEFINITION_SCAN_STATEMENTS", 200)
# ETL (ETL_MODE above): the stream and consumer group, statements per flatten batch,
# stream entries per read, idle time after which a dead consumer's entries are reclaimed,
# and how far back each sweep looks before its last start (covers open transactions).
ANALYTICS_ETL_STREAM = env_str("ANALYTICS_ETL_STREAM", "frontline:xapi:etl")
ANALYTICS_ETL_STREAM_MAXLEN = env_int("ANALYTICS_ETL_STREAM_MAXLEN", 1_000_000)
ANALYTICS_ETL_GROUP = env_str("ANALYTICS_ETL_GROUP", "etl")
ANALYTICS_ETL_BATCH = env_int("ANALYTICS_ETL_BATCH", 1000)
ANALYTICS_ETL_BATCH_ENTRIES = env_int("ANALYTICS_ETL_BATCH_ENTRIES", 50)
ANALYTICS_ETL_CLAIM_IDLE_SECONDS = env_int("ANALYTICS_ETL_CLAIM_IDLE_SECONDS", 60)
ANALYTICS_ETL_SWEEP_MARGIN_SECONDS = env_int("ANALYTICS_ETL_SWEEP_MARGIN_SECONDS", 300)
# Every minute, in both modes: flatten whatever is not flattened yet (streaming's backstop).
CELERY_BEAT_SCHEDULE["analytics-etl-sweep"] = {
    "task": "analytics.etl.sweep",
    "schedule": crontab(minute="*"),
}
if ETL_MODE == "streaming":
    # Every 5 seconds: drain the ETL stream through the consumer group.
    CELERY_BEAT_SCHEDULE["analytics-etl-consume"] = {
        "task": "analytics.etl.consume",
        "schedule": 5.0,
    }
# Every 6 hours (00:00, 06:00, 12:00, 18:00 UTC): roll engagement metrics up into the daily
# per-learner and per-cohort figures of the days touched since the last runs.
CELERY_BEAT_SCHEDULE["analytics-engagement-rollup"] = {
    "task": "analytics.engagement.rollup",
    "schedule": crontab(minute=0, hour="*/6"),
}
# Safe query console: the database alias it reads (point it at a replica or a SELECT-only
# role if you have one), the statement timeout of each run and the most rows it returns.
ANALYTICS_CONSOLE_DATABASE = env_str("ANALYTICS_CONSOLE_DATABASE", "default")
ANALYTICS_CONSOLE_STATEMENT_TIMEOUT_MS = env_int("ANALYTICS_CONSOLE_STATEMENT_TIMEOUT_MS", 5000)
ANALYTICS_CONSOLE_MAX_ROWS = env_int("ANALYTICS_CONSOLE_MAX_ROWS", 1000)
# Monitoring dashboard (the admin index): seconds its figures are cached (0: never).
ANALYTICS_DASHBOARD_CACHE_SECONDS = env_int("ANALYTICS_DASHBOARD_CACHE_SECONDS", 30)
# /healthz reports the ETL as "lagging" (status "degraded", still 200) past WARN seconds,
# and as failing (503, "etl" in `failing`) past FAIL seconds.
ANALYTICS_ETL_LAG_WARN_SECONDS = env_int("ANALYTICS_ETL_LAG_WARN_SECONDS", 300)
ANALYTICS_ETL_LAG_FAIL_SECONDS = env_int("ANALYTICS_ETL_LAG_FAIL_SECONDS", 1800)
# Scheduled reports: how long a file link in a delivered report works (seconds), the most
# rows a PDF shows (the CSV always has every row), the largest CSV + PDF an email attaches
# (larger runs are sent as links only), when a run stuck in "running" is taken over by the
# next worker (also the generation task's time limit), schedules and deliveries handled per
# beat run, and an optional TrueType font for the PDF (default: DejaVu Sans if installed,
# else the Vera font reportlab ships). Retries follow DELIVERY_RETRY_DELAYS.
REPORTS_LINK_MAX_AGE = env_int("REPORTS_LINK_MAX_AGE", 7 * 24 * 3600)
REPORTS_PDF_MAX_ROWS = env_int("REPORTS_PDF_MAX_ROWS", 2000)
REPORTS_EMAIL_ATTACHMENT_MAX_BYTES = env_int("REPORTS_EMAIL_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
REPORTS_EXECUTION_TIMEOUT_SECONDS = env_int("REPORTS_EXECUTION_TIMEOUT_SECONDS", 1800)
REPORTS_RUN_DUE_BATCH = env_int("REPORTS_RUN_DUE_BATCH", 500)
REPORTS_RETRY_BATCH = env_int("REPORTS_RETRY_BATCH", 200)
REPORTS_PDF_FONT = env_str("REPORTS_PDF_FONT")
REPORTS_PDF_FONT_BOLD = env_str("REPORTS_PDF_FONT_BOLD")
# Every minute: open a run for each report schedule whose cron slot has come (each
# schedule's own cron and time zone decide; this only looks), then send report deliveries
# whose retry time has come.
CELERY_BEAT_SCHEDULE["analytics-reports-run-due"] = {
    "task": "analytics.reports.run_due",
    "schedule": crontab(minute="*"),
}
CELERY_BEAT_SCHEDULE["analytics-reports-retry-due"] = {
    "task": "analytics.reports.retry_due",
    "schedule": crontab(minute="*"),
}
