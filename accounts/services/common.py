from typing import NoReturn

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError

from accounts.errors import EmailTaken, PhoneTaken
from accounts.models import User
from dumuwaks.core.errors import ValidationFailed


def normalized_email(email: str) -> str:
    """Emails are stored lower-cased (unique on lower(email)), so lookups compare exactly."""
    return User.objects.normalize_email(email.strip()).lower()


def raise_for_unique_violation(exc: IntegrityError) -> NoReturn:
    """Translate the users table's unique constraints into 409s; re-raise anything else."""
    diag = getattr(exc.__cause__, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or str(exc)
    if "phone" in constraint:
        raise PhoneTaken() from exc
    if "email" in constraint:
        raise EmailTaken() from exc
    raise exc


def validate_new_password(password: str, *, user, field: str = "password") -> None:
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ValidationFailed(fields={field: list(exc.messages)}) from exc
