from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.handles import deleted_handle, handle_base, handle_first_free
from accounts.models import TechnicianProfile, User
from accounts.services.auth import auth_refresh_tokens_revoke_all
from accounts.services.common import normalized_email, raise_for_unique_violation
from accounts.tasks import send_verification_email
from dumuwaks.core.phone import normalize_phone
from dumuwaks.core.side_effects import enqueue_after_commit
from notifications.realtime import user_sockets_revalidate_after_commit

# What a user (or an admin on their behalf) may change through the API. Role, staff flags, KYC status and
# verified flags are deliberately absent: they change only through their own flows.
USER_EDITABLE_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "email",
        "phone_number",
        "address",
        "county",
        "latitude",
        "longitude",
        "avatar_url",
        "preferred_language",
    }
)


def user_update(*, user: User, data: dict) -> User:
    """Apply whitelisted profile changes. A new email must be verified again; so must a new phone."""
    unknown = set(data) - USER_EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"Not editable: {sorted(unknown)}")
    changed: set[str] = set()
    email_changed = False
    for field, value in data.items():
        if field == "email":
            value = normalized_email(value)
            if value != user.email:
                email_changed = True
                user.is_email_verified = False
                changed.add("is_email_verified")
        elif field == "phone_number":
            value = normalize_phone(value) if value else None
            if value != user.phone_number:
                user.is_phone_verified = False
                user.phone_changed_at = timezone.now()
                changed.update({"is_phone_verified", "phone_changed_at"})
        elif field in {"first_name", "last_name", "address", "county"} and isinstance(value, str):
            value = value.strip()
        if getattr(user, field) != value:
            setattr(user, field, value)
            changed.add(field)
    if not changed:
        return user
    with transaction.atomic():
        try:
            with transaction.atomic():
                user.save(update_fields=[*sorted(changed), "updated_at"])
        except IntegrityError as exc:
            user.refresh_from_db()
            raise_for_unique_violation(exc)
        if email_changed:
            enqueue_after_commit(send_verification_email, user.pk)
    return user


def user_delete(*, user: User, actor: User) -> User:
    """Deactivate and anonymise. The row stays so bookings, payments and reviews keep their counterparty."""
    if user.deleted_at is not None:
        return user
    now = timezone.now()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.email = f"deleted-{user.pk}@deleted.invalid"
        user.phone_number = None
        user.first_name = "Deleted"
        user.last_name = "user"
        user.handle = deleted_handle(user.pk)  # the old one was derived from the name
        user.address = ""
        user.latitude = None
        user.longitude = None
        user.avatar_url = ""
        user.is_active = False
        user.is_email_verified = False
        user.is_phone_verified = False
        user.deleted_at = now
        user.set_unusable_password()
        user.save()
        TechnicianProfile.objects.filter(user=user).update(
            is_available=False,
            bio="",
            national_id_number="",
            id_document_url="",
            selfie_url="",
            updated_at=now,
        )
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        auth_refresh_tokens_revoke_all(user=user)
        # The user's open WebSockets find the account inactive and close (4401).
        user_sockets_revalidate_after_commit(user.pk)
    return user


def user_handles_assign(*, users: list[User]) -> None:
    """Give unsaved users without a handle the first free ones (accounts/handles.py), in list order, for
    `bulk_create`, which skips `User.save`. One query; the caller inserts right after (a handle taken in
    between fails the insert)."""
    pending = [
        (user, handle_base(first_name=user.first_name, last_name=user.last_name)) for user in users
    ]
    pending = [(user, base) for user, base in pending if not user.handle]
    if not pending:
        return
    bases = sorted({base for _, base in pending})
    taken = set(
        User.objects.filter(
            handle__regex=rf"^({'|'.join(map(re.escape, bases))})[0-9]*$"
        ).values_list("handle", flat=True)
    )
    for user, base in pending:
        user.handle = handle_first_free(base, taken=taken)
        taken.add(user.handle)
