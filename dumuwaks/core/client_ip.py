"""The client's IP address, as every rate limit and the M-Pesa callback allow-list see it.

Only addresses our own proxies wrote are trusted: with `NUM_PROXIES = n` (environment), the n-th entry from
the right of X-Forwarded-For, which the outermost trusted proxy appended; with 0 (the default when unset,
and what production must state explicitly) REMOTE_ADDR. The left-hand entries are whatever the client sent,
so a forged header never changes the answer.
"""

from __future__ import annotations

from django.conf import settings


def client_ip(request) -> str:
    meta = getattr(request, "META", request)
    proxies = settings.REST_FRAMEWORK["NUM_PROXIES"]
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return meta.get("REMOTE_ADDR", "")


class TrustedProxyIdentMixin:
    """For DRF throttles: key anonymous clients on `client_ip` (DRF's own get_ident falls back to the
    client-controlled first X-Forwarded-For entry when the header has fewer hops than NUM_PROXIES)."""

    def get_ident(self, request) -> str:
        return client_ip(request)
