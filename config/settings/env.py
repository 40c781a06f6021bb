"""A small typed reader for environment variables.

Only modules under ``config/settings`` read the environment. Values are taken
literally: unlike django-environ, a value starting with ``$`` is not treated as
a reference to another variable (generated secret keys can start with ``$``).
"""

import os

_MISSING = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ImproperlyConfiguredEnv(RuntimeError):
    """A required variable is missing or a value cannot be parsed."""


def env_str(name: str, default=_MISSING) -> str:
    """The variable's value; a required one (no default) must be set and not blank."""
    value = os.environ.get(name)
    if value is None or (default is _MISSING and not value.strip()):
        if default is _MISSING:
            raise ImproperlyConfiguredEnv(f"Set the {name} environment variable.")
        return default
    return value


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfiguredEnv(f"{name} must be a boolean (true/false), not {value!r}.")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfiguredEnv(f"{name} must be an integer, not {value!r}.") from exc


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]
