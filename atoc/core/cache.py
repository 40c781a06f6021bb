"""Django's Redis cache, keeping one client per connection pool.

Django's ``RedisCacheClient`` builds a new ``redis.Redis`` object for every cache
operation; building one sets up its table of reply callbacks, which costs more
than the round trip to Redis itself. The API authenticates and throttles each
request through the cache, so that cost is paid several times per request. A
``redis.Redis`` object holds no connection of its own (the pool hands one out per
command) and is safe to share between threads, so one per pool is kept instead.
Everything else is Django's backend unchanged.
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient


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
