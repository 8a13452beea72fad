"""Who is online: a Redis counter per user, incremented by each open socket and decremented when it closes.

The key expires PRESENCE_TTL seconds after the last activity of any of the user's sockets, so a crashed
server cannot leave someone "online" forever; clients ping at least every 30 s to stay online. Keys live
under the cache's KEY_PREFIX (per test worker in tests).
"""

from __future__ import annotations

from django.core.cache import cache

from dumuwaks.core.cache import redis_client

PRESENCE_TTL = 90

_INCR = redis_client.register_script(
    """
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return n
"""
)
# Never below zero: an expired key followed by a late disconnect must not leave -1 behind.
_DECR = redis_client.register_script(
    """
local n = redis.call('DECR', KEYS[1])
if n <= 0 then redis.call('DEL', KEYS[1]) return 0 end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return n
"""
)


def _key(user_id: int) -> str:
    return cache.make_key(f"presence:user:{user_id}")


def presence_connect(user_id: int) -> bool:
    """Count one more socket; True when the user just came online."""
    return int(_INCR(keys=[_key(user_id)], args=[PRESENCE_TTL])) == 1


def presence_disconnect(user_id: int) -> bool:
    """Count one socket less; True when the user just went offline."""
    return int(_DECR(keys=[_key(user_id)], args=[PRESENCE_TTL])) == 0


def presence_touch(user_id: int) -> None:
    key = _key(user_id)
    if not redis_client.expire(key, PRESENCE_TTL):
        # The key expired while the socket stayed open (no pings): count this socket again.
        _INCR(keys=[key], args=[PRESENCE_TTL])


def online_user_ids(user_ids) -> set[int]:
    ids = list(user_ids)
    if not ids:
        return set()
    values = redis_client.mget([_key(uid) for uid in ids])
    return {uid for uid, value in zip(ids, values, strict=True) if value and int(value) > 0}
