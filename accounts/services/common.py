from typing import NoReturn

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError

from accounts.errors import EmailTaken, PhoneTaken
from dumuwaks.core.errors import ValidationFailed


def raise_for_unique_violation(exc: IntegrityError) -> NoReturn:
    """Translate the users table's unique constraints into 409s; re-raise anything else."""
    text = str(exc)
    if "user_phone_unique" in text or "phone_number" in text:
        raise PhoneTaken() from exc
    if "user_email_ci_unique" in text or "email" in text:
        raise EmailTaken() from exc
    raise exc


def validate_new_password(password: str, *, user, field: str = "password") -> None:
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ValidationFailed(fields={field: list(exc.messages)}) from exc
