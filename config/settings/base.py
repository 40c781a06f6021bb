"""Settings shared by every environment. The environment is read here and only here."""

from datetime import timedelta
from pathlib import Path

import dj_database_url

from .env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("ATOC_VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "insecure-local-only-key-do-not-use-in-production")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "atoc.center.admin_site.AtocAdminConfig",
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
    "simple_history",
    "axes",
    "atoc.core",
    "trust",
    "escalations",
    "atoc.center",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A lost database connection answers 503 with Retry-After, not 500.
    "atoc.core.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, so it sees the outcome of every login attempt.
    "axes.middleware.AxesMiddleware",
]

# Admin login lockout (django-axes): five failures for a username from one address
# lock that pair out for 15 minutes. Attempts live in the database, so the lockout
# holds across web processes and nodes.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("ATOC_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ATOC_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
# Lock out by the address the trusted proxies saw (ATOC_TRUSTED_PROXIES), never by a
# header the client wrote.
AXES_CLIENT_IP_CALLABLE = "atoc.core.clients.client_ip"

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


def _database_from_env() -> dict:
    url = env_str("DATABASE_URL", "").strip()
    if url:
        config = dj_database_url.parse(url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
        config["CONN_HEALTH_CHECKS"] = True
        return config
    # Embedded default: SQLite in WAL mode with IMMEDIATE transactions, so the web
    # server, the worker and the scheduler can all write without "database is locked".
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "atoc.sqlite3",
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA busy_timeout=20000;"
            ),
        },
    }


DATABASES = {"default": _database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")

if REDIS_URL:
    CACHES = {
        "default": {
            # Degrades to "no cache" while Redis is down: the database stays the truth.
            "BACKEND": "atoc.core.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGIN_URL = "admin:login"

# --- Celery -----------------------------------------------------------------
# Without a broker URL the center runs on kombu's filesystem transport under var/,
# so the one-command set-up needs nothing external.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "") or REDIS_URL or "filesystem://"
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
    # Visibility timeout longer than any task's time limit; deadlines are columns
    # swept by periodic jobs, never long ETAs (see ENGINEERING.md).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- REST framework -----------------------------------------------------------
# The API kernel lives in atoc.core.api: Bearer API keys (or a staff session),
# scopes per action, one JSON error shape, cursor pagination, throttling per key.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so an anonymous request gets 401 with "WWW-Authenticate: Bearer".
        "atoc.core.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["atoc.core.api.permissions.HasScope"],
    "DEFAULT_PARSER_CLASSES": ["atoc.core.api.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "atoc.core.api.pagination.IdCursorPagination",
    "DEFAULT_THROTTLE_CLASSES": [
        "atoc.core.api.throttling.ApiKeyRateThrottle",
        "atoc.core.api.throttling.AnonymousRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "api_key": env_str("ATOC_API_THROTTLE_RATE", "1200/min"),
        "anonymous": env_str("ATOC_API_ANON_THROTTLE_RATE", "60/min"),
    },
    "EXCEPTION_HANDLER": "atoc.core.api.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "atoc.core.api.schema.AtocAutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # How many proxies in front of the web processes append to X-Forwarded-For: the
    # client address the anonymous rate limit counts is the one the outermost of them
    # saw. 0 (no proxy) counts the connection's address and ignores the header, which
    # a client could otherwise set to anything.
    "NUM_PROXIES": env_int("ATOC_TRUSTED_PROXIES", 0),
}

# Request bodies above this size are refused (413); 2 MiB holds a bulk of 1,000 signals.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("ATOC_MAX_BODY_BYTES", 2 * 1024 * 1024)

SPECTACULAR_SETTINGS = {
    "TITLE": "ATOC API",
    "DESCRIPTION": (
        "Agent Trust Operations Center: evidence in, decisions out.\n\n"
        "Authenticate with `Authorization: Bearer <key>` (keys are created with "
        "`manage.py create_api_key`). Every 4xx/5xx answer has the body "
        '`{"error": {"status", "code", "message", "fields": [{"field", "message"}]}}`. '
        "POST endpoints accept an `Idempotency-Key` header: the same key and body replays "
        "the first response."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "atoc.core.api.schema.postprocess_strict_strings",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "AgentStatusEnum": "trust.choices.AgentStatus",
        "AgentAutonomyEnum": "trust.choices.AgentAutonomy",
        "AgentRoutingEnum": "trust.choices.AgentRouting",
        "SeverityEnum": "trust.choices.BreachSeverity",
        "DisputeStateEnum": "trust.choices.DisputeState",
        "DisputeOutcomeEnum": "trust.choices.DisputeOutcome",
        "SignalKindEnum": "escalations.choices.SignalKind",
        "CounterpartKindEnum": "escalations.choices.CounterpartKind",
        "CounterpartFunctionEnum": "escalations.choices.CounterpartFunction",
        "IncidentConsequenceEnum": "escalations.choices.IncidentConsequence",
        "IncidentStateEnum": "escalations.choices.IncidentState",
        "WebhookFormatEnum": "escalations.choices.WebhookFormat",
    },
}

# --- ATOC ------------------------------------------------------------------------
ATOC_SYSTEM_USERNAME = "atoc-system"

# API keys may be restricted to teams of this model (the kernel names no app).
ATOC_API_KEY_TEAM_MODEL = "trust.Team"
# What a logged-in user holds on the API follows their role: each scope needs every
# Django permission listed (any active staff user reads; superusers hold every scope).
ATOC_API_SESSION_SCOPE_PERMISSIONS = {
    "read": [],
    "signals:write": ["escalations.add_signal", "escalations.change_incident"],
    "evaluations:write": ["trust.add_evaluation"],
    "admin": [
        "escalations.change_severitylevel",
        "escalations.change_control",
        "escalations.change_counterpart",
        "escalations.change_routingrule",
        "trust.add_team",
        "trust.add_agent",
        "trust.add_pact",
        "trust.add_pactversion",
    ],
}
# The teams a logged-in user may see and act on through the API, as for a
# team-restricted key: a function of the user returning team ids, or None for all.
ATOC_API_SESSION_TEAM_SCOPE = "atoc.center.access.scope_team_ids"
# A request holding an Idempotency-Key for longer than this is presumed dead and
# its key may be taken over by a retry.
ATOC_IDEMPOTENCY_IN_FLIGHT_TIMEOUT = env_int("ATOC_IDEMPOTENCY_IN_FLIGHT_TIMEOUT", 300)
# Stored idempotency records older than this are purged by a daily job.
ATOC_IDEMPOTENCY_RETENTION_HOURS = env_int("ATOC_IDEMPOTENCY_RETENTION_HOURS", 24)

# Notification delivery: a message is tried this many times (with exponential
# backoff) before it is marked failed; webhooks and SMTP give up after a short wait.
ATOC_NOTIFICATION_MAX_ATTEMPTS = env_int("ATOC_NOTIFICATION_MAX_ATTEMPTS", 6)
ATOC_WEBHOOK_TIMEOUT_SECONDS = env_int("ATOC_WEBHOOK_TIMEOUT_SECONDS", 5)
EMAIL_TIMEOUT = env_int("DJANGO_EMAIL_TIMEOUT", 10)

# Trust statements (GET /api/v1/agents/{slug}/trust/) are signed with Ed25519.
# ATOC_TRUST_SIGNING_KEY: the raw 32-byte private key, base64url. Without it (local
# and test runs) a development key is generated once under VAR_DIR. The key id
# defaults to a fingerprint of the public key. ATOC_TRUST_PREVIOUS_PUBLIC_KEYS lists
# retired keys still published for verification: "key_id=base64url,key_id=base64url".
ATOC_TRUST_SIGNING_KEY = env_str("ATOC_TRUST_SIGNING_KEY", "")
ATOC_TRUST_KEY_ID = env_str("ATOC_TRUST_KEY_ID", "")
ATOC_TRUST_PREVIOUS_PUBLIC_KEYS = env_list("ATOC_TRUST_PREVIOUS_PUBLIC_KEYS")

# The center (atoc/center). A systemic issue is proposed when at least
# ATOC_SYSTEMIC_MIN_INCIDENTS incidents opened in the last ATOC_SYSTEMIC_WINDOW_DAYS
# share a component or a pact across at least ATOC_SYSTEMIC_MIN_TEAMS teams, and the
# agents sharing it have at least ATOC_SYSTEMIC_MIN_LIFT times the incident rate of
# the other agents (so a provider every agent uses is not proposed).
ATOC_SYSTEMIC_MIN_INCIDENTS = env_int("ATOC_SYSTEMIC_MIN_INCIDENTS", 3)
ATOC_SYSTEMIC_WINDOW_DAYS = env_int("ATOC_SYSTEMIC_WINDOW_DAYS", 14)
ATOC_SYSTEMIC_MIN_TEAMS = env_int("ATOC_SYSTEMIC_MIN_TEAMS", 2)
ATOC_SYSTEMIC_MIN_LIFT = float(env_str("ATOC_SYSTEMIC_MIN_LIFT", "2"))
# Fleet reviews come round per tier every so many days; metrics cover a window.
ATOC_FLEET_REVIEW_CADENCE_DAYS = {
    1: env_int("ATOC_REVIEW_CADENCE_TIER1_DAYS", 14),
    2: env_int("ATOC_REVIEW_CADENCE_TIER2_DAYS", 30),
    3: env_int("ATOC_REVIEW_CADENCE_TIER3_DAYS", 90),
}
ATOC_METRICS_WINDOW_DAYS = env_int("ATOC_METRICS_WINDOW_DAYS", 28)
# The fleet picture's grouped counts are cached (keyed by what changed them) this long.
ATOC_FLEET_PICTURE_CACHE_SECONDS = env_int("ATOC_FLEET_PICTURE_CACHE_SECONDS", 300)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
