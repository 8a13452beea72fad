"""Feature-phone reads other apps may use: who gets job offers as the feature-phone SMS."""

from __future__ import annotations

from accounts.models import Role
from featurephone.models import SmsOfferEnrolment


def enrolment_get(*, technician) -> SmsOfferEnrolment | None:
    """The technician's enrolment row, active or not (None when they never enrolled)."""
    return SmsOfferEnrolment.objects.filter(technician=technician).first()


def enrolment_state(*, technician) -> dict:
    """What the technician's enrolment screen shows (`SmsOfferEnrolmentSerializer`)."""
    enrolment = enrolment_get(technician=technician)
    return {
        "is_enrolled": bool(enrolment and enrolment.is_active),
        "phone_number": technician.phone_number or None,
        "is_phone_verified": technician.is_phone_verified,
        "language": technician.preferred_language or "en",
    }


def is_enrolled(*, user_id: int) -> bool:
    """True when the user's job offers go out as the feature-phone offer SMS (with its answer code).

    That needs an active enrolment and an active technician whose phone is still verified: a changed,
    unverified number gets no offer SMS (it may be someone else's), so nothing else is suppressed either.
    """
    return (
        SmsOfferEnrolment.objects.filter(
            technician_id=user_id,
            is_active=True,
            technician__is_active=True,
            technician__role=Role.TECHNICIAN,
            technician__is_phone_verified=True,
            technician__phone_number__isnull=False,
        )
        .exclude(technician__phone_number="")
        .exists()
    )
