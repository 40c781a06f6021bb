"""Production settings: secrets are required, transport is secure, caches are shared.

The process refuses to start when ``DJANGO_SECRET_KEY``, ``DATABASE_URL``,
``REDIS_URL`` or ``ATOC_TRUST_SIGNING_KEY`` is missing: a production node must
never fall back to the embedded defaults (nor sign trust statements with a
generated development key).
"""

import base64
import binascii

from .base import *  # noqa: F403
from .base import DATABASES, REDIS_URL
from .env import env_bool, env_int, env_list, env_str

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    raise RuntimeError("Set DJANGO_ALLOWED_HOSTS for production.")
env_str("DATABASE_URL")
env_str("REDIS_URL")
ATOC_TRUST_SIGNING_KEY = env_str("ATOC_TRUST_SIGNING_KEY")
try:
    _signing_key_bytes = base64.urlsafe_b64decode(
        ATOC_TRUST_SIGNING_KEY + "=" * (-len(ATOC_TRUST_SIGNING_KEY) % 4)
    )
except (ValueError, binascii.Error):
    _signing_key_bytes = b""
if len(_signing_key_bytes) != 32:
    raise RuntimeError("ATOC_TRUST_SIGNING_KEY must be a raw 32-byte Ed25519 key, base64url.")
assert DATABASES["default"]["ENGINE"].endswith("postgresql"), "Production runs on PostgreSQL."

CACHES = {
    "default": {
        "BACKEND": "atoc.core.cache.ResilientRedisCache",
        "LOCATION": REDIS_URL,
    }
}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
# Load balancers probe the health check over plain HTTP on the node itself.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "atoc@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# One JSON object per line (atoc.core.logging.JsonFormatter), for the log shipper.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "atoc.core.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
