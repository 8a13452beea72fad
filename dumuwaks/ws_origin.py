"""Which browser origins may open a WebSocket.

Sockets authenticate with a bearer token, not a cookie, so a cross-site page cannot ride on a user's
session; the Origin check is defence in depth against pages we do not serve. Native apps send no Origin
header at all and are let through (they must still present a valid token).
"""

from urllib.parse import urlparse

from channels.security.websocket import OriginValidator
from django.conf import settings


class TokenSocketOriginValidator(OriginValidator):
    def valid_origin(self, parsed_origin):
        if parsed_origin is None:
            return True
        return super().valid_origin(parsed_origin)


def allowed_socket_origins() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    for origin in settings.CORS_ALLOWED_ORIGINS:
        host = urlparse(origin).hostname
        if host:
            hosts.append(host)
    if settings.DEBUG:
        hosts += ["localhost", "127.0.0.1", "[::1]"]
    return hosts
