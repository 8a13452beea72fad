"""Redis: Django's cache backend, and one redis-py client per process for what the cache API cannot do.

The cache is Django's `RedisCache`. Counters that must be atomic and expire (the rate limits, the sign-in
failure counts, presence) need a Lua script, which Django's cache API has no call for; they run on
`redis_client`, built once per process from the same `REDIS_URL`, on keys made by the cache's own
`make_key`, so `cache.get`/`cache.delete` read and clear them (Django stores integers unpickled).
A `redis.Redis` holds only its connection pool, which is thread-safe and reconnects after a fork.
"""

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache

redis_client = redis.Redis.from_url(settings.REDIS_URL, **settings.REDIS_CONNECTION_OPTIONS)

_INCR_WITH_EXPIRY = redis_client.register_script(
    """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
)


class BinarySafeKeysRedisCache(RedisCache):
    """Django's `RedisCache` without the memcached key checks, as Django's cache docs suggest ("Cache key
    warnings": subclass a built-in backend and override just `validate_key`).

    Django warns about keys memcached could not store (spaces, control characters, over 250 bytes) by
    walking every character of every key (~90 us for the twenty keys of one booking-list page); Redis keys
    are binary-safe.
    """

    def validate_key(self, key):
        pass


def cache_incr_with_expiry(key: str, *, timeout: int) -> int:
    """Add one to the integer under the cache key `key`, which lives `timeout` seconds from its first
    increment.

    One round trip, atomic on the server (the script is sent by its SHA; redis-py loads it again after
    a SCRIPT FLUSH or a Redis restart). Every API request pays for this call.
    """
    return _INCR_WITH_EXPIRY(keys=[cache.make_key(key)], args=[timeout])
