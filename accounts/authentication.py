"""Bearer JWT authentication: simplejwt's, plus revocation at logout.

Access tokens are stateless, so on its own a logout could only revoke the refresh token and the access token
lived out its 15 minutes. Logout now stamps `User.access_tokens_valid_after`, and an access token issued in an
earlier second is refused. The user row is loaded for every request anyway, so the check costs nothing; the
price is that the user's other devices have to refresh once (their refresh tokens still work). Tokens issued
within the logout's own second survive it, so a sign-in right after a sign-out is never refused.
A password change or reset is covered separately by simplejwt's CHECK_REVOKE_TOKEN.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password


class JWTAuthentication(authentication.JWTAuthentication):
    def get_user(self, validated_token):
        """simplejwt's checks (user exists and is active, password unchanged) on the user row read by
        `user_for_access_token`, then the logout cut-off."""
        try:
            user_id = int(validated_token[api_settings.USER_ID_CLAIM])
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidToken(_("Token contained no recognizable user identification")) from error
        from accounts.selectors import (
            user_for_access_token,
        )  # accounts.models is still loading at import

        user = user_for_access_token(user_id=user_id)
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(
                _("The user's password has been changed."), code="password_changed"
            )
        valid_after = user.access_tokens_valid_after
        if valid_after is not None and int(validated_token.get("iat", 0)) < int(
            valid_after.timestamp()
        ):
            raise AuthenticationFailed("This session has been signed out.", code="token_revoked")
        return user


class JWTAuthenticationScheme(SimpleJWTScheme):
    """The OpenAPI security scheme (bearer JWT) for this class, as drf-spectacular gives simplejwt's."""

    target_class = JWTAuthentication
