"""Django's Redis cache backend, keeping one redis-py client per connection pool.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` for every cache call; each build fills
a dict of ~300 response callbacks, which cost about as much as the Redis round trip itself. Every API
request makes at least one cache call (its rate limit), so the clients are kept instead. A `redis.Redis` only holds its
pool and the callbacks, and its pool is thread-safe, so sharing it between threads is safe.
"""

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class SharedClientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient

    def validate_key(self, key):
        # Django warns about keys memcached could not store (spaces, control characters, over 250 bytes) by
        # walking every character of every key; Redis keys are binary-safe, and a page of the booking list
        # reads twenty keys.
        pass

    def incr_with_expiry(self, key, timeout: int, version=None) -> int:
        """Add one to an integer that lives `timeout` seconds from its first increment; one round trip."""
        key = self.make_and_validate_key(key, version=version)
        pipe = self._cache.get_client(key, write=True).pipeline(transaction=True)
        pipe.set(key, 0, ex=timeout, nx=True)
        pipe.incr(key)
        return pipe.execute()[1]
