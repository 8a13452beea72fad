"""The API-wide rate limits (scopes `anon` and `user`) as fixed-window counters on Redis.

DRF's throttles keep the time of every request inside the window in one cache entry (up to 1,200 floats
per user at the default `user` rate) and read, unpickle, trim, pickle and write it back on every request.
These count instead: one atomic INCR per request, one round trip, constant size. The price is the usual
fixed-window one: a client may spend a full allowance at the end of one window and another at the start
of the next. The brute-force limits in `accounts.throttles` keep DRF's exact sliding log.
"""

from __future__ import annotations

from rest_framework import throttling

from dumuwaks.core.cache import cache_incr_with_expiry
from dumuwaks.core.client_ip import TrustedProxyIdentMixin


class FixedWindowThrottleMixin(TrustedProxyIdentMixin):
    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends_at = (window + 1) * self.duration
        count = cache_incr_with_expiry(f"{self.key}:w{window}", timeout=self.duration + 1)
        return count <= self.num_requests

    def wait(self):
        return max(self.window_ends_at - self.now, 0.0)


class AnonRateThrottle(FixedWindowThrottleMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(FixedWindowThrottleMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(FixedWindowThrottleMixin, throttling.ScopedRateThrottle):
    """A per-endpoint limit (`throttle_scope` on the view, rate in DEFAULT_THROTTLE_RATES), per account or,
    for anonymous callers, per client IP; on top of the API-wide `anon`/`user` limits."""

    def allow_request(self, request, view):
        # DRF's ScopedRateThrottle learns its scope and rate from the view here, not in __init__.
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return FixedWindowThrottleMixin.allow_request(self, request, view)
