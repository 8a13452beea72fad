from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import tokens
from accounts.errors import AccountLocked, InvalidCredentials, InvalidToken, WrongPassword
from accounts.jwt import RefreshToken
from accounts.models import (
    SELF_SERVICE_ROLES,
    CorporateProfile,
    Language,
    Role,
    TechnicianProfile,
    User,
)
from accounts.services.common import (
    normalized_email,
    raise_for_unique_violation,
    validate_new_password,
)
from dumuwaks.core.errors import ValidationFailed
from dumuwaks.core.phone import normalize_phone
from dumuwaks.core.side_effects import enqueue_after_commit
from notifications.realtime import user_sockets_revalidate_after_commit


@dataclass(frozen=True)
class LoginResult:
    user: User
    tokens: dict | None = None  # {"access", "refresh"} when the login is complete
    challenge_token: str | None = None  # set instead of tokens when a second factor is required


def user_register(
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    phone_number: str,
    role: str = Role.CUSTOMER,
    preferred_language: str = Language.ENGLISH,
    company_name: str = "",
    kra_pin: str = "",
) -> User:
    """Create a self-service account (customer, technician or corporate) and send the verification email."""
    if role not in SELF_SERVICE_ROLES:
        raise ValidationFailed(fields={"role": ["Choose customer, technician or corporate."]})
    if role == Role.CORPORATE and not company_name.strip():
        raise ValidationFailed(fields={"company_name": ["Corporate accounts need a company name."]})
    email = normalized_email(email)
    phone = normalize_phone(phone_number)
    candidate = User(email=email, first_name=first_name, last_name=last_name)
    validate_new_password(password, user=candidate)

    with transaction.atomic():
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    email=email,
                    password=password,
                    first_name=first_name.strip(),
                    last_name=last_name.strip(),
                    phone_number=phone,
                    role=role,
                    preferred_language=preferred_language,
                )
        except IntegrityError as exc:
            raise_for_unique_violation(exc)
        if role == Role.TECHNICIAN:
            TechnicianProfile.objects.create(user=user)
        elif role == Role.CORPORATE:
            CorporateProfile.objects.create(
                user=user, company_name=company_name.strip(), kra_pin=kra_pin.strip().upper()
            )
        from accounts.tasks import send_verification_email

        enqueue_after_commit(send_verification_email, user.pk)
    return user


def auth_issue_tokens(user: User) -> dict:
    """A new session. The access token's `iat` is its minting instant to the microsecond (accounts.jwt), so a
    logout an instant earlier does not end it, and one an instant later does."""
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def _record_login_failure(user: User) -> None:
    """Count a failed password or second factor; the 5th failure in a row locks the account for 15 min."""
    User.objects.filter(pk=user.pk).update(failed_login_attempts=F("failed_login_attempts") + 1)
    locked_until = timezone.now() + timedelta(minutes=settings.ACCOUNTS_LOCKOUT_MINUTES)
    locked = User.objects.filter(
        pk=user.pk, failed_login_attempts__gte=settings.ACCOUNTS_LOGIN_MAX_FAILURES
    ).update(failed_login_attempts=0, locked_until=locked_until)
    if locked:
        raise AccountLocked(extra={"locked_until": locked_until.isoformat()})


def _record_login_success(user: User) -> None:
    now = timezone.now()
    User.objects.filter(pk=user.pk).update(
        failed_login_attempts=0, locked_until=None, last_login=now
    )
    user.failed_login_attempts, user.locked_until, user.last_login = 0, None, now


def ensure_not_locked(user: User) -> None:
    if user.is_locked:
        raise AccountLocked(extra={"locked_until": user.locked_until.isoformat()})


def login_failed(user: User, error: Exception) -> None:
    """Record a failure and raise `error` (or AccountLocked when this failure locked the account)."""
    _record_login_failure(user)
    raise error


def login_completed(user: User) -> dict:
    _record_login_success(user)
    return auth_issue_tokens(user)


def auth_login(*, email: str, password: str) -> LoginResult:
    user = User.objects.filter(
        email=normalized_email(email), is_active=True, deleted_at__isnull=True
    ).first()
    if user is None:
        tokens.run_dummy_password_hasher(password)
        raise InvalidCredentials()
    ensure_not_locked(user)
    if not user.check_password(password):
        login_failed(user, InvalidCredentials())

    from accounts.services.two_factor import two_factor_is_enabled

    if two_factor_is_enabled(user):
        return LoginResult(user=user, challenge_token=tokens.make_two_factor_challenge(user))
    return LoginResult(user=user, tokens=login_completed(user))


def auth_logout(*, user: User, refresh: str) -> None:
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise InvalidToken("This refresh token is invalid, expired or already revoked.") from exc
    if str(token.payload.get("user_id")) != str(user.pk):
        raise InvalidToken("This refresh token belongs to another session.")
    with transaction.atomic():
        token.blacklist()
        # Ends the access tokens too (see accounts.authentication); other devices refresh once.
        User.objects.filter(pk=user.pk).update(access_tokens_valid_after=timezone.now())
        # Open WebSockets re-check their access tokens by the same rule and close (4401).
        user_sockets_revalidate_after_commit(user.pk)


def auth_refresh_tokens_revoke_all(*, user: User) -> int:
    """Blacklist every outstanding refresh token of `user` (password change/reset, deletion)."""
    outstanding = OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    return len(created)


def password_change(*, user: User, current_password: str, new_password: str) -> dict:
    """Change the password, sign out every other session and return a fresh token pair."""
    if not user.check_password(current_password):
        raise WrongPassword(fields={"current_password": ["The current password is incorrect."]})
    validate_new_password(new_password, user=user, field="new_password")
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password", "updated_at"])
        auth_refresh_tokens_revoke_all(user=user)
        # Sockets opened with an access token from before the change close (4401).
        user_sockets_revalidate_after_commit(user.pk)
        from accounts.tasks import send_password_changed_email

        enqueue_after_commit(send_password_changed_email, user.pk)
        return auth_issue_tokens(user)


def password_reset_request(*, email: str) -> None:
    """Email a reset link when the account exists; callers answer the same either way."""
    user = User.objects.filter(
        email=normalized_email(email), is_active=True, deleted_at__isnull=True
    ).first()
    if user is None:
        return
    from accounts.tasks import send_password_reset_email

    enqueue_after_commit(send_password_reset_email, user.pk)


def password_reset_confirm(*, token: str, new_password: str) -> User:
    found = tokens.read_user_token(token, tokens.PASSWORD_RESET)
    if found is None:
        raise InvalidToken()
    user, _ = found
    validate_new_password(new_password, user=user)
    with transaction.atomic():
        user.set_password(new_password)
        # Proving control of the mailbox also lifts a lockout.
        user.failed_login_attempts = 0
        user.locked_until = None
        user.save(update_fields=["password", "failed_login_attempts", "locked_until", "updated_at"])
        auth_refresh_tokens_revoke_all(user=user)
        # Sockets opened with an access token from before the change close (4401).
        user_sockets_revalidate_after_commit(user.pk)
        from accounts.tasks import send_password_changed_email

        enqueue_after_commit(send_password_changed_email, user.pk)
    return user
