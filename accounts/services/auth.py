from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import NoReturn

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import tokens
from accounts.errors import InvalidCredentials, InvalidToken, WrongPassword
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
from accounts.tasks import (
    send_password_changed_email,
    send_password_reset_email_to_address,
    send_verification_email,
    sign_in_lock_record,
)
from accounts.throttles import SignInPair, sign_in_locks_lift
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
        enqueue_after_commit(send_verification_email, user.pk)
    return user


def auth_issue_tokens(user: User) -> dict:
    """A new session. The access token's `iat` is its minting instant to the microsecond (accounts.jwt), so a
    logout an instant earlier does not end it, and one an instant later does."""
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def sign_in_attempt(*, email: str, client_ip: str) -> SignInPair:
    """The (email, source) pair a sign-in attempt counts against (accounts.throttles); 429 `throttled` while
    it is closed, whether or not the email has an account."""
    pair = SignInPair.of(email=normalized_email(email), client_ip=client_ip)
    pair.ensure_open()
    return pair


def login_failed(pair: SignInPair, error: Exception) -> NoReturn:
    """Count a failed password or second factor against `pair`; raise `error`, or 429 once the pair is
    closed. Emails with and without an account do the same work here, so neither answer nor timing differs."""
    locked_until = pair.record_failure()
    if locked_until is not None:
        enqueue_after_commit(sign_in_lock_record, pair.email, pair.epoch, locked_until)
    pair.ensure_open()
    raise error


def login_completed(user: User, pair: SignInPair) -> dict:
    pair.clear()
    now = timezone.now()
    User.objects.filter(pk=user.pk).update(last_login=now)
    user.last_login = now
    return auth_issue_tokens(user)


def auth_login(*, email: str, password: str, client_ip: str) -> LoginResult:
    pair = sign_in_attempt(email=email, client_ip=client_ip)
    user = User.objects.filter(email=pair.email, is_active=True, deleted_at__isnull=True).first()
    if user is None:
        tokens.run_dummy_password_hasher(password)
        login_failed(pair, InvalidCredentials())
    if not user.check_password(password):
        login_failed(pair, InvalidCredentials())

    from accounts.services.two_factor import two_factor_is_enabled  # cycle: two_factor imports auth

    if two_factor_is_enabled(user):
        return LoginResult(user=user, challenge_token=tokens.make_two_factor_challenge(user))
    return LoginResult(user=user, tokens=login_completed(user, pair))


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
        enqueue_after_commit(send_password_changed_email, user.pk)
        return auth_issue_tokens(user)


def password_reset_request(*, email: str) -> None:
    """Queue the reset email for `email`; the task finds the account, if there is one. Known and unknown
    emails do the same work here (no query, one task), so neither the answer nor its timing tells them apart."""
    enqueue_after_commit(send_password_reset_email_to_address, normalized_email(email))


def password_reset_confirm(*, token: str, new_password: str) -> User:
    found = tokens.read_user_token(token, tokens.PASSWORD_RESET)
    if found is None:
        raise InvalidToken()
    user, _ = found
    validate_new_password(new_password, user=user)
    with transaction.atomic():
        user.set_password(new_password)
        # Proving control of the mailbox also lifts the sign-in locks of every address.
        user.locked_until = None
        user.save(update_fields=["password", "locked_until", "updated_at"])
        transaction.on_commit(partial(sign_in_locks_lift, email=user.email))
        auth_refresh_tokens_revoke_all(user=user)
        # Sockets opened with an access token from before the change close (4401).
        user_sockets_revalidate_after_commit(user.pk)
        enqueue_after_commit(send_password_changed_email, user.pk)
    return user
