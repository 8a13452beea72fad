"""Bearer JWT authentication: simplejwt's, plus revocation at logout.

Access tokens are stateless, so on its own a logout could only revoke the refresh token and the access token
lived out its 15 minutes. Logout now stamps `User.access_tokens_valid_after`, and an access token issued
before that instant is refused, one issued after it accepted: a sign-in right after a sign-out works, and the
user's other devices refresh once (their refresh tokens still work). The user row is loaded for every request
anyway, so the check costs nothing.

The comparison is exact to the microsecond, because our tokens carry such an `iat` (accounts.jwt). It used to
be whole seconds (simplejwt's `iat`), which let an access token issued in the logout's own second outlive it
(issue 19). A whole-second `iat` (simplejwt's own classes, tokens minted before the change) still works and
compares as the start of its second: refused within the logout's second, as it may predate the logout.
The logout reads its instant after the request carrying its token was authenticated, so every token the
server minted before the logout has a strictly earlier `iat`; one stamped with the logout's very microsecond
(only a frozen test clock makes that happen) counts as issued after it.
A password change or reset is covered separately by simplejwt's CHECK_REVOKE_TOKEN.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.jwt import epoch_microseconds, numeric_date_microseconds


class JWTAuthentication(authentication.JWTAuthentication):
    def get_user(self, validated_token):
        """simplejwt's checks (user exists and is active, password unchanged) on the user row read by
        `user_for_access_token`, then the logout cut-off."""
        try:
            user_id = int(validated_token[api_settings.USER_ID_CLAIM])
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidToken(_("Token contained no recognizable user identification")) from error
        # cycle: accounts.models -> dumuwaks.core.errors -> DRF's settings import this module while
        # accounts.models is still loading, and accounts.selectors needs those models.
        from accounts.selectors import user_for_access_token

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
        if valid_after is not None and numeric_date_microseconds(
            validated_token.get("iat", 0)
        ) < epoch_microseconds(valid_after):
            raise AuthenticationFailed("This session has been signed out.", code="token_revoked")
        return user


class JWTAuthenticationScheme(SimpleJWTScheme):
    """The OpenAPI security scheme (bearer JWT) for this class, as drf-spectacular gives simplejwt's."""

    target_class = JWTAuthentication
