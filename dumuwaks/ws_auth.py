"""WebSocket authentication by access JWT: `?token=<jwt>` or `Sec-WebSocket-Protocol: bearer, <jwt>`."""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser


@database_sync_to_async
def _user_for_token(raw_token: str):
    from rest_framework_simplejwt.authentication import JWTAuthentication
    from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

    auth = JWTAuthentication()
    try:
        validated = auth.get_validated_token(raw_token)
        return auth.get_user(validated)
    except (InvalidToken, TokenError, Exception):
        return AnonymousUser()


def _token_from_scope(scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode())
    if query.get("token"):
        return query["token"][0]
    for name, value in scope.get("headers", []):
        if name == b"sec-websocket-protocol":
            parts = [p.strip() for p in value.decode().split(",")]
            if len(parts) == 2 and parts[0].lower() == "bearer":
                return parts[1]
    return None


class JWTAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        token = _token_from_scope(scope)
        scope["user"] = await _user_for_token(token) if token else AnonymousUser()
        if not getattr(scope["user"], "is_active", False):
            scope["user"] = AnonymousUser()
        return await super().__call__(scope, receive, send)


def JWTAuthMiddlewareStack(inner):  # noqa: N802 - mirrors channels' AuthMiddlewareStack naming
    return JWTAuthMiddleware(inner)
