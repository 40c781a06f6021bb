"""Settings for the test suite: real PostgreSQL and Redis on this machine by default."""

import dj_database_url

from .base import *  # noqa: F403
from .env import env_str

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/atoc"),
        conn_max_age=0,
    )
}
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "") or REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# A test that starts a real worker gives it, and the tasks it queues, a queue of its own.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CACHES = {
    "default": {
        "BACKEND": "atoc.core.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "atoc-test",
    }
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# Throttles stay on in tests (they run on Redis) but far above what a test sends;
# the throttling tests lower the rate themselves.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {"api_key": "100000/min", "anonymous": "100000/min"},
}
