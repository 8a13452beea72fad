from django.core.cache import cache

from dumuwaks.core.cache import redis_client
from notifications import presence


def test_counter_across_sockets():
    assert presence.presence_connect(1) is True
    assert presence.presence_connect(1) is False  # second socket: already online
    assert presence.online_user_ids([1]) == {1}
    assert presence.presence_disconnect(1) is False
    assert presence.presence_disconnect(1) is True
    assert presence.online_user_ids([1]) == set()


def test_late_disconnect_after_expiry_never_goes_negative():
    assert presence.presence_disconnect(2) is True
    assert presence.online_user_ids([2]) == set()
    assert presence.presence_connect(2) is True


def test_touch_revives_an_expired_key_and_bulk_lookup():
    presence.presence_touch(3)  # key expired while the socket stayed open
    assert presence.online_user_ids([3]) == {3}
    presence.presence_connect(4)
    assert presence.online_user_ids([3, 4, 5]) == {3, 4}
    assert presence.online_user_ids([]) == set()


def test_keys_expire():
    presence.presence_connect(6)
    ttl = redis_client.ttl(cache.make_key("presence:user:6"))
    assert 0 < ttl <= presence.PRESENCE_TTL
