"""Writes for accounts, by sub-domain. Import from here: `from accounts.services import user_register`."""

from accounts.services.auth import (
    LoginResult,
    auth_issue_tokens,
    auth_login,
    auth_logout,
    auth_refresh_tokens_revoke_all,
    password_change,
    password_reset_confirm,
    password_reset_request,
    user_register,
)
from accounts.services.kyc import kyc_review, kyc_submit, kyc_transition
from accounts.services.technicians import technician_profile_update
from accounts.services.two_factor import (
    two_factor_disable,
    two_factor_enable,
    two_factor_is_enabled,
    two_factor_setup,
    two_factor_verify_login,
)
from accounts.services.users import user_delete, user_handles_assign, user_update
from accounts.services.verification import (
    email_verification_resend,
    email_verify,
    phone_verification_code_issue,
    phone_verification_confirm,
    phone_verification_request,
)

__all__ = [
    "LoginResult",
    "auth_issue_tokens",
    "auth_login",
    "auth_logout",
    "auth_refresh_tokens_revoke_all",
    "email_verification_resend",
    "email_verify",
    "kyc_review",
    "kyc_submit",
    "kyc_transition",
    "password_change",
    "password_reset_confirm",
    "password_reset_request",
    "phone_verification_code_issue",
    "phone_verification_confirm",
    "phone_verification_request",
    "technician_profile_update",
    "two_factor_disable",
    "two_factor_enable",
    "two_factor_is_enabled",
    "two_factor_setup",
    "two_factor_verify_login",
    "user_delete",
    "user_handles_assign",
    "user_register",
    "user_update",
]
