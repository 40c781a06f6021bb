"""Throttling per API key (or per staff user), and per address for anonymous calls.

Counters live in the default cache, which is Redis in production and tests, so
every web process shares them. Rates come from ``REST_FRAMEWORK
["DEFAULT_THROTTLE_RATES"]`` and are read on each request, so a settings change in
tests takes effect.
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from .permissions import request_api_key


class _LiveRateThrottle(SimpleRateThrottle):
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class ApiKeyRateThrottle(_LiveRateThrottle):
    """One budget per API key (``api_key`` rate); staff sessions get one per user."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        api_key = request_api_key(request)
        if api_key is not None:
            ident = f"key-{api_key.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AnonymousRateThrottle(_LiveRateThrottle):
    """Unauthenticated calls (public keys, schema, refused requests) by client address."""

    scope = "anonymous"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
