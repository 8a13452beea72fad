"""Authentication endpoints under /api/v1/auth/. Thin: parse, call one service, render."""

from __future__ import annotations

import functools

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import serializers as simplejwt_serializers
from rest_framework_simplejwt.exceptions import TokenError

from accounts import rules, selectors, services, throttles
from accounts import serializers as s
from accounts.jwt import RefreshToken
from accounts.selectors import user_get_with_profile
from dumuwaks.core import rendered_cache
from dumuwaks.core.client_ip import client_ip
from dumuwaks.core.errors import ApplicationError
from dumuwaks.core.openapi import error_responses
from dumuwaks.core.renderers import PreRendered

TAG = ["auth"]
SENT_IF_EXISTS = "If an account with that email exists, we have sent it an email. Check your inbox."


def _user_payload(user) -> dict:
    return s.AccountUserSerializer(user_get_with_profile(user_id=user.pk)).data


@functools.cache
def _account_fingerprint() -> str:
    return rendered_cache.representation_fingerprint(s.AccountUserSerializer)


def _account_key(user_id: int, version: str) -> str:
    return f"account:{_account_fingerprint()}:{user_id}:{version}"


def _own_account_rendered(user) -> bytes:
    """GET /auth/me through the rendered cache (`dumuwaks.core.rendered_cache`): the app asks for it on
    every start. The user behind the token exists (authentication read it)."""
    version = selectors.account_version(user_id=user.pk)

    def build(missing: list[int]) -> dict[int, tuple[str, bytes]]:
        account = selectors.user_get_with_profile_and_version(user_id=user.pk)
        if account is None:
            return {}
        body = rendered_cache.render(s.AccountUserSerializer(account).data)
        return {user.pk: (_account_key(user.pk, account.version), body)}

    keys = {user.pk: _account_key(user.pk, version)} if version is not None else {}
    found = rendered_cache.rendered(keys, build)
    if user.pk not in found:
        raise NotAuthenticated()
    return found[user.pk]


class _PublicApi(APIView):
    """Reachable without a session; a stale Authorization header must not block signing in."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class RegisterApi(_PublicApi):
    throttle_classes = [throttles.RegisterIpThrottle]

    @extend_schema(
        tags=TAG,
        operation_id="auth_register",
        request=s.AuthRegisterInputSerializer,
        responses={201: s.AuthSessionSerializer, **error_responses(400, 409, 429)},
    )
    def post(self, request):
        data = s.AuthRegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        tokens = services.auth_issue_tokens(user)
        return Response({**tokens, "user": _user_payload(user)}, status=status.HTTP_201_CREATED)


class LoginApi(_PublicApi):
    throttle_classes = throttles.LOGIN_THROTTLES

    @extend_schema(
        tags=TAG,
        operation_id="auth_login",
        request=s.AuthLoginInputSerializer,
        responses={200: s.AuthLoginOutputSerializer, **error_responses(400, 401, 429)},
        description=(
            "Returns a session, or `twoFactorRequired: true` with a `challengeToken` (valid 5 minutes) "
            "to exchange at `auth/verify-2fa`. A wrong password and an email without an account both "
            "answer 401 `invalid_credentials`.\n\n"
            "Failed sign-ins are counted per email and source address (an IPv6 client by its /64), "
            "whether or not the email has an account: the 5th failure within 15 minutes (wrong password "
            "here, or wrong code at `auth/verify-2fa`) closes that email to that address for 15 minutes. "
            "While closed, the pair answers 429 `throttled` with `Retry-After` without checking the "
            "password, exactly as an email without an account would; other addresses sign in as usual. "
            "A successful sign-in from the address clears its count; a password reset or the admin "
            "action Unlock reopens every address. Independently, 10 attempts per minute per email and 20 "
            "per minute per address are allowed (429 `throttled`)."
        ),
    )
    def post(self, request):
        data = s.AuthLoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.auth_login(**data.validated_data, client_ip=client_ip(request))
        if result.challenge_token:
            return Response(
                {
                    "two_factor_required": True,
                    "challenge_token": result.challenge_token,
                    "challenge_expires_in": rules.TWO_FACTOR_CHALLENGE_MAX_AGE_SECONDS,
                }
            )
        return Response(
            {"two_factor_required": False, **result.tokens, "user": _user_payload(result.user)}
        )


class TwoFactorLoginApi(_PublicApi):
    throttle_classes = throttles.TWO_FACTOR_THROTTLES

    @extend_schema(
        tags=TAG,
        operation_id="auth_verify_2fa",
        request=s.AuthTwoFactorLoginInputSerializer,
        responses={200: s.AuthSessionSerializer, **error_responses(400, 429)},
        description=(
            "A wrong code (400 `invalid_code`) counts against the same email and address as a wrong "
            "password at `auth/login`; once that pair is closed, 429 `throttled` with `Retry-After`."
        ),
    )
    def post(self, request):
        data = s.AuthTwoFactorLoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, tokens = services.two_factor_verify_login(
            **data.validated_data, client_ip=client_ip(request)
        )
        return Response({**tokens, "user": _user_payload(user)})


class MeApi(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="auth_me",
        responses={200: s.AccountUserSerializer, **error_responses(401)},
    )
    def get(self, request):
        return Response(PreRendered(_own_account_rendered(request.user)))

    @extend_schema(
        tags=TAG,
        operation_id="auth_me_update",
        request=s.AccountUserUpdateInputSerializer,
        responses={200: s.AccountUserSerializer, **error_responses(400, 401, 409)},
        description="Changing email or phone marks it unverified again; duplicates answer 409 "
        "`email_taken` / `phone_taken`.",
    )
    def patch(self, request):
        data = s.AccountUserUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.user_update(user=request.user, data=data.validated_data)
        return Response(_user_payload(user))


class _TokenRefreshSerializer(simplejwt_serializers.TokenRefreshSerializer):
    """simplejwt's rotation, minting with our classes: the new access token's `iat` is this request's
    instant to the microsecond (never the refresh token's), so it outlives a logout that came before."""

    token_class = RefreshToken


class RefreshApi(_PublicApi):
    @extend_schema(
        tags=TAG,
        operation_id="auth_refresh",
        request=s.AuthRefreshInputSerializer,
        responses={200: s.AuthTokenPairSerializer, **error_responses(400, 401)},
        description="Rotates: the refresh token sent is blacklisted and a new pair returned.",
    )
    def post(self, request):
        data = _TokenRefreshSerializer(data=request.data)
        try:
            data.is_valid(raise_exception=True)
        except TokenError as exc:
            raise ApplicationError(
                "The refresh token is invalid, expired or revoked. Sign in again.",
                code="token_not_valid",
                status_code=status.HTTP_401_UNAUTHORIZED,
            ) from exc
        return Response(data.validated_data)


class LogoutApi(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="auth_logout",
        request=s.AuthRefreshInputSerializer,
        responses={204: None, **error_responses(400, 401)},
    )
    def post(self, request):
        data = s.AuthRefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.auth_logout(user=request.user, refresh=data.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class ForgotPasswordApi(_PublicApi):
    throttle_classes = throttles.PASSWORD_RESET_THROTTLES

    @extend_schema(
        tags=TAG,
        operation_id="auth_forgot_password",
        request=s.AuthEmailInputSerializer,
        responses={202: s.AuthMessageSerializer, **error_responses(400, 429)},
        description="Answers the same whether or not the email belongs to an account.",
    )
    def post(self, request):
        data = s.AuthEmailInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_request(email=data.validated_data["email"])
        return Response({"message": SENT_IF_EXISTS}, status=status.HTTP_202_ACCEPTED)


class ResetPasswordApi(_PublicApi):
    throttle_classes = [throttles.PasswordResetIpThrottle]

    @extend_schema(
        tags=TAG,
        operation_id="auth_reset_password",
        request=s.AuthResetPasswordInputSerializer,
        responses={200: s.AuthMessageSerializer, **error_responses(400, 429)},
        description="Single use; signs out every session of the account and lifts a lockout.",
    )
    def post(self, request):
        data = s.AuthResetPasswordInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_confirm(
            token=data.validated_data["token"], new_password=data.validated_data["password"]
        )
        return Response({"message": "Your password has been reset. Sign in with the new one."})


class VerifyEmailApi(_PublicApi):
    @extend_schema(
        tags=TAG,
        operation_id="auth_verify_email",
        request=None,
        responses={200: s.AuthMessageSerializer, **error_responses(400)},
    )
    def get(self, request, token: str):
        services.email_verify(token=token)
        return Response({"message": "Your email address is verified."})


class ResendVerificationApi(_PublicApi):
    throttle_classes = throttles.VERIFICATION_EMAIL_THROTTLES

    @extend_schema(
        tags=TAG,
        operation_id="auth_resend_verification",
        request=s.AuthEmailInputSerializer,
        responses={202: s.AuthMessageSerializer, **error_responses(400, 429)},
        description="Answers the same whether or not the email belongs to an unverified account.",
    )
    def post(self, request):
        data = s.AuthEmailInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.email_verification_resend(email=data.validated_data["email"])
        return Response({"message": SENT_IF_EXISTS}, status=status.HTTP_202_ACCEPTED)


class VerifyPhoneApi(APIView):
    throttle_classes = throttles.OTP_THROTTLES

    @extend_schema(
        tags=TAG,
        operation_id="auth_verify_phone_request",
        request=None,
        responses={202: s.AuthMessageSerializer, **error_responses(400, 401, 409, 429)},
        description="Sends a 6-digit code by SMS to the account's phone (valid 10 minutes); "
        "confirm it at `auth/verify-phone/confirm`.",
    )
    def post(self, request):
        services.phone_verification_request(user=request.user)
        return Response(
            {"message": "We have sent a verification code by SMS."},
            status=status.HTTP_202_ACCEPTED,
        )


class VerifyPhoneConfirmApi(APIView):
    throttle_classes = throttles.OTP_THROTTLES

    @extend_schema(
        tags=TAG,
        operation_id="auth_verify_phone_confirm",
        request=s.AuthCodeInputSerializer,
        responses={200: s.AccountUserSerializer, **error_responses(400, 401, 429)},
    )
    def post(self, request):
        data = s.AuthCodeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.phone_verification_confirm(
            user=request.user, code=data.validated_data["code"]
        )
        return Response(_user_payload(user))


class ChangePasswordApi(APIView):
    throttle_classes = throttles.TWO_FACTOR_THROTTLES

    @extend_schema(
        tags=TAG,
        operation_id="auth_change_password",
        request=s.AuthChangePasswordInputSerializer,
        responses={200: s.AuthTokenPairSerializer, **error_responses(400, 401, 429)},
        description="Signs out every other session and returns a fresh token pair.",
    )
    def post(self, request):
        data = s.AuthChangePasswordInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tokens = services.password_change(user=request.user, **data.validated_data)
        return Response(tokens)


class TwoFactorSetupApi(APIView):
    throttle_classes = throttles.TWO_FACTOR_THROTTLES

    @extend_schema(
        tags=TAG,
        operation_id="auth_setup_2fa",
        request=None,
        responses={200: s.AuthTwoFactorSetupOutputSerializer, **error_responses(401, 409, 429)},
    )
    def post(self, request):
        return Response(services.two_factor_setup(user=request.user))


class TwoFactorEnableApi(APIView):
    throttle_classes = throttles.TWO_FACTOR_THROTTLES

    @extend_schema(
        tags=TAG,
        operation_id="auth_enable_2fa",
        request=s.AuthCodeInputSerializer,
        responses={200: s.AuthBackupCodesSerializer, **error_responses(400, 401, 409, 429)},
        description="Returns 10 single-use backup codes. They are shown only once.",
    )
    def post(self, request):
        data = s.AuthCodeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        codes = services.two_factor_enable(user=request.user, code=data.validated_data["code"])
        return Response({"backup_codes": codes})


class TwoFactorDisableApi(APIView):
    throttle_classes = throttles.TWO_FACTOR_THROTTLES

    @extend_schema(
        tags=TAG,
        operation_id="auth_disable_2fa",
        request=s.AuthTwoFactorDisableInputSerializer,
        responses={
            204: OpenApiResponse(description="Two-factor authentication disabled"),
            **error_responses(400, 401, 409, 429),
        },
    )
    def post(self, request):
        data = s.AuthTwoFactorDisableInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.two_factor_disable(user=request.user, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
