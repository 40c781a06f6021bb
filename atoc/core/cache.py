"""ATOC's Redis cache: one client per connection pool, and no cache while Redis is down.

Django's ``RedisCacheClient`` builds a new ``redis.Redis`` object for every cache
operation; building one sets up its table of reply callbacks, which costs more
than the round trip to Redis itself. The API authenticates and throttles each
request through the cache, so that cost is paid several times per request. A
``redis.Redis`` object holds no connection of its own (the pool hands one out per
command) and is safe to share between threads, so one per pool is kept instead.

The database is ATOC's source of truth; Redis only holds copies (API keys looked
up recently, the fleet picture's counts) and throttle counters. When Redis stops,
Django's own Redis cache raises on every call and every API request would fail.
:class:`ResilientRedisCache` logs the outage and answers as an empty cache instead:
reads miss, writes are dropped, throttles let requests through until Redis is back.
Timeouts are short and connection errors are not retried, so an outage costs a
request milliseconds, not seconds.
"""

from __future__ import annotations

import functools
import logging
import time

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

logger = logging.getLogger(__name__)

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)
DEFAULT_OPTIONS = {
    "socket_connect_timeout": 0.5,
    "socket_timeout": 0.5,
    "retry": Retry(NoBackoff(), 0),
}
# At most one warning per process in this many seconds while Redis is down.
WARN_EVERY_SECONDS = 30.0

_last_warning = [0.0]


def _warn(operation: str, exc: Exception) -> None:
    now = time.monotonic()
    if now - _last_warning[0] >= WARN_EVERY_SECONDS:
        _last_warning[0] = now
        logger.warning("Cache unavailable (%s: %s); serving without it.", operation, exc)


def _degrade(default):
    """Run a cache operation; on a Redis outage, log and return ``default(args)``."""

    def decorator(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except UNAVAILABLE as exc:
                _warn(method.__name__, exc)
                return default(*args, **kwargs)

        return wrapper

    return decorator


def _none(*args, **kwargs):
    return None


def _false(*args, **kwargs):
    return False


def _get_default(key, default=None, version=None):
    return default


def _empty_dict(*args, **kwargs):
    return {}


def _set_many_failed(data, *args, **kwargs):
    return list(data)


def _no_hits(*args, **kwargs):
    return 0, 0


def _not_stored(key, delta=1, version=None):
    raise ValueError(f"Key {key!r} not found (the cache is unavailable).")


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            if index not in self._pools:
                self._pools[index] = self._pool_class.from_url(
                    self._servers[index], **self._pool_options
                )
            client = self._clients.setdefault(
                index, self._client(connection_pool=self._pools[index])
            )
        return client


class RedisCache(DjangoRedisCache):
    """``django.core.cache.backends.redis.RedisCache`` with a shared client per pool."""

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

    def count_hit(
        self, key, timeout: int, *, by: int = 1, also_read=None, version=None
    ) -> tuple[int, int]:
        """Add ``by`` to the counter at ``key`` (from 0), expiring ``timeout`` seconds on.

        Returns the new count and the count at ``also_read`` (0 when absent), in one
        round trip (pipelined INCRBY, EXPIRE and GET), the increment atomic across
        processes. Counters are plain integers, which ``get`` reads back as such.
        """
        key = self.make_and_validate_key(key, version=version)
        pipe = self._cache.get_client(key, write=True).pipeline(transaction=False)
        pipe.incrby(key, by)
        pipe.expire(key, timeout)
        if also_read is not None:
            pipe.get(self.make_and_validate_key(also_read, version=version))
        results = pipe.execute()
        other = results[2] if also_read is not None else None
        return int(results[0]), int(other or 0)


class ResilientRedisCache(RedisCache):
    """Django's Redis cache, answering as an empty cache while Redis is unreachable."""

    def __init__(self, server, params):
        params = {**params, "OPTIONS": {**DEFAULT_OPTIONS, **params.get("OPTIONS", {})}}
        super().__init__(server, params)

    get = _degrade(_get_default)(RedisCache.get)
    set = _degrade(_none)(RedisCache.set)
    add = _degrade(_false)(RedisCache.add)
    touch = _degrade(_false)(RedisCache.touch)
    delete = _degrade(_false)(RedisCache.delete)
    has_key = _degrade(_false)(RedisCache.has_key)
    get_many = _degrade(_empty_dict)(RedisCache.get_many)
    set_many = _degrade(_set_many_failed)(RedisCache.set_many)
    delete_many = _degrade(_none)(RedisCache.delete_many)
    incr = _degrade(_not_stored)(RedisCache.incr)
    clear = _degrade(_false)(RedisCache.clear)
    count_hit = _degrade(_no_hits)(RedisCache.count_hit)  # throttles let requests through
