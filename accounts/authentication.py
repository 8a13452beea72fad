"""Bearer JWT authentication: simplejwt's, plus revocation at logout.

Access tokens are stateless, so on its own a logout could only revoke the refresh token and the access token
lived out its 15 minutes. Logout now stamps `User.access_tokens_valid_after`, and an access token issued in an
earlier second is refused. The user row is loaded for every request anyway, so the check costs nothing; the
price is that the user's other devices have to refresh once (their refresh tokens still work). Tokens issued
within the logout's own second survive it, so a sign-in right after a sign-out is never refused.
A password change or reset is covered separately by simplejwt's CHECK_REVOKE_TOKEN.
"""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication


class JWTAuthentication(authentication.JWTAuthentication):
    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        valid_after = user.access_tokens_valid_after
        if valid_after is not None and int(validated_token.get("iat", 0)) < int(
            valid_after.timestamp()
        ):
            raise AuthenticationFailed("This session has been signed out.", code="token_revoked")
        return user


class JWTAuthenticationScheme(SimpleJWTScheme):
    """The OpenAPI security scheme (bearer JWT) for this class, as drf-spectacular gives simplejwt's."""

    target_class = JWTAuthentication
