"""Django's Redis cache backend, keeping one redis-py client per connection pool.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` for every cache call; each build fills
a dict of ~300 response callbacks, which cost about as much as the Redis round trip itself. Every API
request makes at least one cache call (its rate limit), so the clients are kept instead. A `redis.Redis` only holds its
pool and the callbacks, and its pool is thread-safe, so sharing it between threads is safe.
"""

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_INCR_WITH_EXPIRY_LUA = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}
        self._scripts = {}

    def incr_with_expiry_script(self, client):
        script = self._scripts.get(id(client))
        if script is None:
            script = self._scripts.setdefault(
                id(client), client.register_script(_INCR_WITH_EXPIRY_LUA)
            )
        return script

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
        """Add one to an integer that lives `timeout` seconds from its first increment.

        One command, atomic on the server (a Lua script, sent by its SHA once loaded); a MULTI/EXEC of
        SET NX and INCR did the same in four, and every API request pays for this call.
        """
        key = self.make_and_validate_key(key, version=version)
        client = self._cache.get_client(key, write=True)
        return self._cache.incr_with_expiry_script(client)(keys=[key], args=[timeout])
