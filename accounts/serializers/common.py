"""Shared pieces of the accounts serializers: refusing protected fields, phone numbers."""

from __future__ import annotations

import re

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dumuwaks.core.phone import InvalidPhoneNumber, normalize_phone

# Fields that only their own flows (or staff in the Django admin) change. Sending them is refused loudly
# rather than ignored, so a client bug or an escalation attempt is visible.
PROTECTED_FIELDS = frozenset(
    {
        "role",
        "is_staff",
        "is_superuser",
        "is_active",
        "kyc_status",
        "is_email_verified",
        "is_phone_verified",
        "phone_changed_at",
        "failed_login_attempts",
        "locked_until",
        "deleted_at",
        "date_joined",
        "password",
        "groups",
        "user_permissions",
    }
)

KRA_PIN_RE = re.compile(r"^[AP]\d{9}[A-Z]$")


class RefuseProtectedFieldsMixin:
    """Input serializers mix it in to answer 400 when a request sends any of `protected_fields`."""

    protected_fields: frozenset[str] = PROTECTED_FIELDS

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            refused = sorted(set(data.keys()) & self.protected_fields)
            if refused:
                raise serializers.ValidationError(
                    {name: ["This field cannot be changed here."] for name in refused}
                )
        return super().to_internal_value(data)


class PhoneNumberInputField(serializers.CharField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            return normalize_phone(value)
        except InvalidPhoneNumber as exc:
            raise serializers.ValidationError(exc.message) from exc


def technician_profile_path(technician_id: int) -> str:
    """Where a client opens the public profile (`GET /api/v1/technicians/{id}`)."""
    return reverse("technician-profile", kwargs={"pk": technician_id})


@extend_schema_field(OpenApiTypes.STR)
class ProfileUrlField(serializers.Field):
    """`profileUrl`: the path of the technician's public profile, from the technician's user id at
    `id_source` (dotted) on the represented object."""

    def __init__(self, id_source: str = "pk", **kwargs):
        self.id_source = id_source
        kwargs.update(source="*", read_only=True)
        kwargs.setdefault("help_text", "Path of the public profile: GET /api/v1/technicians/{id}")
        super().__init__(**kwargs)

    def to_representation(self, value):
        for part in self.id_source.split("."):
            value = getattr(value, part)
        return technician_profile_path(value)
