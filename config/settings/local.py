"""Settings for running the center on a developer's machine (the README's run command)."""

from .base import *  # noqa: F403
from .env import env_bool, env_str

DEBUG = env_bool("DJANGO_DEBUG", True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Nothing listens for mail on a developer's machine: the center's email notifications
# are written as files under var/mail/ (one file per run of the delivery job) unless
# DJANGO_EMAIL_BACKEND names a real backend.
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "mail"  # noqa: F405
