from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.errors import NotATechnician
from accounts.models import (
    KYC_MACHINE,
    KycRejectionReason,
    KycStatus,
    Role,
    TechnicianProfile,
    User,
)
from accounts.tasks import send_kyc_decision_email
from dumuwaks.core.errors import ValidationFailed
from dumuwaks.core.side_effects import enqueue_after_commit
from dumuwaks.core.state_machine import transition


def kyc_transition(
    *,
    profile: TechnicianProfile,
    to: str,
    actor: User | None,
    reason: str = "",
    reason_code: str = "",
    extra_updates: dict | None = None,
) -> TechnicianProfile:
    """The only way KYC status changes: the core transition of KYC_MACHINE plus a KycReview audit row.

    A rejection stores its typed `reason_code` (KycRejectionReason) and `reason` (staff's words) on the
    profile, where the decision email and the API read them.
    """
    now = timezone.now()
    updates = dict(extra_updates or {})
    if to == KycStatus.PENDING:
        updates.update(
            kyc_submitted_at=now,
            kyc_reviewed_by=None,
            kyc_reviewed_at=None,
            kyc_rejection_reason_code="",
            kyc_rejection_reason="",
        )
    else:
        updates.update(
            kyc_reviewed_by=actor,
            kyc_reviewed_at=now,
            kyc_rejection_reason_code=reason_code if to == KycStatus.REJECTED else "",
            kyc_rejection_reason=reason if to == KycStatus.REJECTED else "",
        )
    with transaction.atomic():
        transition(
            machine=KYC_MACHINE,
            instance=profile,
            to=to,
            actor=actor,
            note=reason,
            fields=updates,
            history_fields={"reason_code": reason_code},
        )
        if to in (KycStatus.APPROVED, KycStatus.REJECTED):
            enqueue_after_commit(send_kyc_decision_email, profile.pk)
    profile.refresh_from_db()
    return profile


def kyc_submit(
    *, user: User, national_id_number: str, id_document_url: str, selfie_url: str
) -> TechnicianProfile:
    if user.role != Role.TECHNICIAN:
        raise NotATechnician()
    profile, _ = TechnicianProfile.objects.get_or_create(user=user)
    return kyc_transition(
        profile=profile,
        to=KycStatus.PENDING,
        actor=user,
        reason="Documents submitted",
        extra_updates={
            "national_id_number": national_id_number.strip(),
            "id_document_url": id_document_url,
            "selfie_url": selfie_url,
        },
    )


def kyc_review(
    *,
    profile: TechnicianProfile,
    decision: str,
    reason: str,
    actor: User,
    reason_code: str = KycRejectionReason.OTHER,
) -> TechnicianProfile:
    """Staff decision on submitted documents: `approve` or `reject`.

    A rejection has a typed `reason_code`; with "other", `reason` (shown to the technician) is required,
    otherwise it adds optional details.
    """
    if decision == "approve":
        return kyc_transition(profile=profile, to=KycStatus.APPROVED, actor=actor, reason=reason)
    if decision == "reject":
        if reason_code not in KycRejectionReason.values:
            raise ValidationFailed(fields={"reason_code": ["Choose one of the listed reasons."]})
        if reason_code == KycRejectionReason.OTHER and not reason.strip():
            raise ValidationFailed(fields={"reason": ["Give the technician a reason."]})
        return kyc_transition(
            profile=profile,
            to=KycStatus.REJECTED,
            actor=actor,
            reason=reason.strip(),
            reason_code=reason_code,
        )
    raise ValidationFailed(fields={"decision": ["Choose approve or reject."]})
