"""Authentication requests and responses."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import (
    SELF_SERVICE_ROLE_CHOICES,
    Language,
    Role,
)
from accounts.serializers.common import (
    KRA_PIN_RE,
    PROTECTED_FIELDS,
    PhoneNumberInputField,
    RefuseProtectedFieldsMixin,
)
from accounts.serializers.users import AccountUserSerializer

# --- auth inputs -------------------------------------------------------------------------------------------------


class AuthRegisterInputSerializer(RefuseProtectedFieldsMixin, serializers.Serializer):
    protected_fields = PROTECTED_FIELDS - {"role", "password"}

    first_name = serializers.CharField(max_length=80)
    last_name = serializers.CharField(max_length=80)
    email = serializers.EmailField(max_length=254)
    phone_number = PhoneNumberInputField(max_length=20)
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    # Only the roles one may give oneself, in the schema too (`SelfServiceRoleEnum`).
    role = serializers.ChoiceField(
        choices=SELF_SERVICE_ROLE_CHOICES,
        default=Role.CUSTOMER,
        help_text="Staff accounts (support, admin) are created by staff",
    )
    preferred_language = serializers.ChoiceField(choices=Language.choices, default=Language.ENGLISH)
    company_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    kra_pin = serializers.CharField(max_length=11, required=False, allow_blank=True)

    def validate_kra_pin(self, value):
        value = value.strip().upper()
        if value and not KRA_PIN_RE.match(value):
            raise serializers.ValidationError("Enter a KRA PIN such as P051234567X.")
        return value

    def validate(self, attrs):
        if attrs.get("role") == Role.CORPORATE and not attrs.get("company_name", "").strip():
            raise serializers.ValidationError(
                {"company_name": ["Corporate accounts need a company name."]}
            )
        return attrs


class AuthLoginInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class AuthTwoFactorLoginInputSerializer(serializers.Serializer):
    challenge_token = serializers.CharField(max_length=500)
    code = serializers.CharField(max_length=32, help_text="6-digit TOTP code or a backup code")


class AuthRefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class AuthTokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class AuthEmailInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class AuthResetPasswordInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=500)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class AuthChangePasswordInputSerializer(serializers.Serializer):
    current_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class AuthCodeInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32)


class AuthTwoFactorDisableInputSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    code = serializers.CharField(max_length=32, help_text="6-digit TOTP code or a backup code")


class AuthMessageSerializer(serializers.Serializer):
    message = serializers.CharField()


class AuthTwoFactorSetupOutputSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Base32 secret for manual entry")
    otpauth_uri = serializers.CharField()
    qr_code = serializers.CharField(help_text="data:image/png;base64,… of the otpauth URI")


class AuthBackupCodesSerializer(serializers.Serializer):
    backup_codes = serializers.ListField(child=serializers.CharField())


class AuthSessionSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    user = AccountUserSerializer()


class AuthLoginOutputSerializer(serializers.Serializer):
    """Either a session (`access`, `refresh`, `user`) or, for 2FA accounts, a challenge for verify-2fa."""

    two_factor_required = serializers.BooleanField()
    access = serializers.CharField(required=False)
    refresh = serializers.CharField(required=False)
    user = AccountUserSerializer(required=False)
    challenge_token = serializers.CharField(required=False)
    challenge_expires_in = serializers.IntegerField(required=False, help_text="seconds")
