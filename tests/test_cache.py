"""The project's Redis cache: shared clients, atomic counters, and no cache while Redis is down."""

import uuid

from django.conf import settings

from atoc.core.cache import ResilientRedisCache


def _cache(location):
    return ResilientRedisCache(location, {"KEY_PREFIX": f"cache-test-{uuid.uuid4().hex}"})


def test_counters_count_atomically_and_read_the_previous_window():
    cache = _cache(settings.REDIS_URL)

    assert cache.count_hit("now", 60, also_read="before") == (1, 0)
    assert cache.count_hit("now", 60, by=2, also_read="before") == (3, 0)
    cache.count_hit("before", 60, by=5)
    assert cache.count_hit("now", 60, by=-1, also_read="before") == (2, 5)
    assert cache.get("now") == 2
    # One client per pool, not one per call.
    assert cache._cache.get_client(write=True) is cache._cache.get_client(write=True)


def test_an_unreachable_redis_is_an_empty_cache_not_an_error():
    cache = _cache("redis://127.0.0.1:1/0")  # nothing listens on port 1

    assert cache.get("key", "fallback") == "fallback"
    assert cache.set("key", "value") is None
    assert cache.add("key", "value") is False
    assert cache.get_many(["a", "b"]) == {}
    assert cache.delete("key") is False
    assert cache.count_hit("now", 60, also_read="before") == (0, 0)  # throttles let it pass
