"""Emails and SMS of the accounts app. Tasks carry ids and re-read the user before sending; the ones that
answer requests about an email address (forgot-password, resend-verification, a closed sign-in pair) carry
the address, because the request must not look the account up (same work whether or not it exists)."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts import rules, tokens
from accounts.models import KycStatus, TechnicianProfile, User, kyc_rejection_reason_text
from accounts.throttles import sign_in_epoch
from notifications.email import send_templated_email
from notifications.sms import SmsDeliveryError, render_sms, send_sms

EMAIL_RETRY = {
    "autoretry_for": (smtplib.SMTPException, ConnectionError, TimeoutError),
    "retry_backoff": True,
    "max_retries": 5,
}


def _active_users():
    return User.objects.filter(is_active=True, deleted_at__isnull=True)


def _active_user(user_id: int) -> User | None:
    return _active_users().filter(pk=user_id).first()


@shared_task(**EMAIL_RETRY)
def send_verification_email(user_id: int) -> int:
    return _send_verification_email(_active_user(user_id))


@shared_task(**EMAIL_RETRY)
def send_verification_email_to_address(email: str) -> int:
    return _send_verification_email(_active_users().filter(email=email).first())


def _send_verification_email(user: User | None) -> int:
    if user is None or user.is_email_verified:
        return 0
    token = tokens.make_user_token(user, tokens.EMAIL_VERIFICATION)
    return send_templated_email(
        to=[user.email],
        template="verify_email",
        context={
            "first_name": user.first_name,
            "email": user.email,
            "token": token,
            "verify_url": f"{settings.CLIENT_WEB_URL}/verify-email/{token}",
            "valid_days": rules.EMAIL_VERIFICATION_MAX_AGE_SECONDS // 86400,
        },
        language=user.preferred_language,
    )


# Forgot-password now queues the task below it; this one still runs messages queued before that change.
@shared_task(**EMAIL_RETRY)
def send_password_reset_email(user_id: int) -> int:
    return _send_password_reset_email(_active_user(user_id))


@shared_task(**EMAIL_RETRY)
def send_password_reset_email_to_address(email: str) -> int:
    return _send_password_reset_email(_active_users().filter(email=email).first())


def _send_password_reset_email(user: User | None) -> int:
    if user is None:
        return 0
    token = tokens.make_user_token(user, tokens.PASSWORD_RESET)
    return send_templated_email(
        to=[user.email],
        template="password_reset",
        context={
            "first_name": user.first_name,
            "token": token,
            "reset_url": f"{settings.CLIENT_WEB_URL}/reset-password?token={token}",
            "valid_minutes": rules.PASSWORD_RESET_MAX_AGE_SECONDS // 60,
        },
        language=user.preferred_language,
    )


@shared_task(**EMAIL_RETRY)
def send_password_changed_email(user_id: int) -> int:
    user = _active_user(user_id)
    if user is None:
        return 0
    return send_templated_email(
        to=[user.email],
        template="password_changed",
        context={
            "first_name": user.first_name,
            "email": user.email,
            "changed_at": timezone.localtime(),
        },
        language=user.preferred_language,
    )


@shared_task(**EMAIL_RETRY)
def send_kyc_decision_email(profile_id: int) -> int:
    profile = (
        TechnicianProfile.objects.select_related("user")
        .filter(pk=profile_id, user__is_active=True)
        .first()
    )
    if profile is None or profile.kyc_status not in (KycStatus.APPROVED, KycStatus.REJECTED):
        return 0
    template = "kyc_approved" if profile.kyc_status == KycStatus.APPROVED else "kyc_rejected"
    return send_templated_email(
        to=[profile.user.email],
        template=template,
        context={
            "first_name": profile.user.first_name,
            "reason": kyc_rejection_reason_text(
                code=profile.kyc_rejection_reason_code,
                details=profile.kyc_rejection_reason,
                language=profile.user.preferred_language,
            ),
        },
        language=profile.user.preferred_language,
    )


@shared_task(autoretry_for=(SmsDeliveryError,), retry_backoff=True, max_retries=3)
def send_phone_verification_code(user_id: int) -> str:
    from accounts.services import (
        phone_verification_code_issue,  # cycle: the services queue these tasks
    )

    user = _active_user(user_id)
    if user is None or not user.phone_number or user.is_phone_verified:
        return "skipped"
    # The code is made here, not in the request, so no secret travels through the broker.
    code = phone_verification_code_issue(user=user)
    message = render_sms(
        template="phone_verification",
        context={"code": code, "valid_minutes": rules.PHONE_CODE_TTL_SECONDS // 60},
        language=user.preferred_language,
    )
    return send_sms(to=user.phone_number, message=message).status


@shared_task
def sign_in_lock_record(email: str, epoch: int, locked_until: float) -> int:
    """Show staff that some address is locked out of the account with `email` (`User.locked_until`, the
    admin's column and filter). Queued whenever an (email, source) pair closes, with or without an account,
    so the failure that closes a pair does the same work either way; skipped if the locks were lifted since."""
    if sign_in_epoch(email=email) != epoch:
        return 0
    until = datetime.fromtimestamp(locked_until, tz=UTC)
    return (
        User.objects.filter(email=email)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=until))
        .update(locked_until=until)
    )
