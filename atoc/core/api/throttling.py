"""Throttling per API key (or per staff user), and per address for anonymous calls.

Counters live in the default cache, which is Redis in production and tests, so
every web process shares them. Rates come from ``REST_FRAMEWORK
["DEFAULT_THROTTLE_RATES"]`` and are read on each request, so a settings change in
tests takes effect.

A budget is counted with two counters per key, one per window of the rate's
period: a request is allowed while the count of the current window plus the
previous window's count, weighted by how much of that window still lies within
the last period, stays within the rate (the usual sliding-window estimate).
Refused requests are not counted, as in DRF. DRF's own throttle keeps the time
of every request of the last period in one cache entry and reads and rewrites
the whole list on each request: its cost grows with the rate, and concurrent
requests overwrite each other's entries. Here a request costs one atomic
increment and one read (one round trip on Redis), whatever the rate.
"""

import math

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from atoc.core.clients import client_ip

from .permissions import request_api_key


class _LiveRateThrottle(SimpleRateThrottle):
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends_at = (window + 1) * self.duration
        current, previous = f"{self.key}:{window}", f"{self.key}:{window - 1}"
        # A counter serves as "previous" during the next window: keep it two periods.
        timeout = 2 * self.duration + 1
        count, before = _count_hit(self.cache, current, timeout, also_read=previous)
        overlap = 1 - (self.now - window * self.duration) / self.duration
        if before * overlap + count <= self.num_requests:
            return True
        _count_hit(self.cache, current, timeout, by=-1)  # a refused request is not counted
        return False

    def wait(self):
        """Seconds until the current window ends (the budget is freed by then or soon after)."""
        return max(1, math.ceil(self.window_ends_at - self.now))


def _count_hit(cache, key: str, timeout: int, *, by: int = 1, also_read=None):
    """Add ``by`` to the counter at ``key``; its new value and the one at ``also_read``."""
    count_hit = getattr(cache, "count_hit", None)
    if count_hit is not None:  # atoc.core.cache.RedisCache: one atomic round trip
        return count_hit(key, timeout, by=by, also_read=also_read)
    # Other caches (local memory in development): add, then increment.
    other = cache.get(also_read, 0) if also_read is not None else 0
    if cache.add(key, by, timeout):
        return by, other
    try:
        return cache.incr(key, by), other
    except ValueError:  # expired in between
        cache.set(key, by, timeout)
        return by, other


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
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}
