"""WebSocket authentication by access JWT: `?token=<jwt>` or `Sec-WebSocket-Protocol: bearer, <jwt>`.

Sets `scope["user"]` (AnonymousUser when the token is missing, invalid, expired or its user inactive),
`scope["access_token"]` (the validated access token, None when anonymous) and `scope["token_exp"]` (epoch
seconds) so a consumer can close a socket whose token has since expired, or has since been refused by the
REST rule (`access_token_still_accepted`: after a logout, a password change or reset, a deactivation).
Consumers decide how to refuse (ours accept, then close with 4401 so browsers can read the code).
"""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import JWTAuthentication


@database_sync_to_async
def _user_for_token(raw_token: str):
    """(user, validated access token), or (AnonymousUser, None) when REST would refuse the token."""
    auth = JWTAuthentication()
    try:
        validated = auth.get_validated_token(raw_token)
        return auth.get_user(validated), validated
    except (
        Exception
    ):  # any invalid token (bad signature, expired, unknown or inactive user) → anonymous
        return AnonymousUser(), None


def access_token_still_accepted(validated_token) -> bool:
    """Whether REST would still accept this (already validated) access token: the user exists and is
    active, the password is unchanged and no logout came after the token was issued. Reads the user row,
    so call it from a thread (database_sync_to_async). Expiry is not checked here (see `token_exp`)."""
    try:
        JWTAuthentication().get_user(validated_token)
    except AuthenticationFailed:  # simplejwt's InvalidToken is one too
        return False
    return True


def _token_from_scope(scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode(errors="ignore"))
    if query.get("token"):
        return query["token"][0]
    # Channels parses the header into scope["subprotocols"]; fall back to the raw header.
    subprotocols = list(scope.get("subprotocols") or [])
    if not subprotocols:
        for name, value in scope.get("headers", []):
            if name == b"sec-websocket-protocol":
                subprotocols = [p.strip() for p in value.decode(errors="ignore").split(",")]
    if len(subprotocols) == 2 and subprotocols[0].lower() == "bearer":
        return subprotocols[1]
    return None


class JWTAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        token = _token_from_scope(scope)
        user, validated = (await _user_for_token(token)) if token else (AnonymousUser(), None)
        if not getattr(user, "is_active", False):
            user, validated = AnonymousUser(), None
        scope["user"] = user
        scope["access_token"] = validated
        scope["token_exp"] = validated.get("exp") if validated is not None else None
        return await super().__call__(scope, receive, send)


def JWTAuthMiddlewareStack(inner):  # noqa: N802 - mirrors channels' AuthMiddlewareStack naming
    return JWTAuthMiddleware(inner)
