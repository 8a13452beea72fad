"""Feature-phone technicians: enrolment, offer codes, inbound SMS answers, USSD actions.

Every action goes through `bookings.services.booking_transition` with the technician as actor, so the rules
(role, status, deposit, slot) and the audit row are the app's. Replies are stored on the inbound row and sent
after commit by a task carrying the row id (ids only).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Role, User
from accounts.services import user_update
from bookings.models import ACTIVE_STATUSES, Booking, BookingStatus
from bookings.services import booking_transition
from dumuwaks.core.errors import ApplicationError
from dumuwaks.core.phone import InvalidPhoneNumber, normalize_phone
from dumuwaks.core.side_effects import enqueue_after_commit
from featurephone.errors import PhoneNotVerified, TechniciansOnly
from featurephone.models import InboundSms, InboundSmsStatus, OfferCode, SmsOfferEnrolment
from notifications.sms import render_sms

CODE_LENGTH = 4
_CODE_ATTEMPTS = 20

# The first word of an SMS answer, English and Kiswahili, upper-cased.
ACCEPT_WORDS = frozenset({"YES", "Y", "NDIO", "NDIYO", "ACCEPT", "KUBALI"})
DECLINE_WORDS = frozenset({"NO", "N", "HAPANA", "DECLINE", "KATAA"})
_ANSWER = re.compile(rf"^\s*([A-Za-z]+)[\s.,:#-]*(\d{{{CODE_LENGTH}}})\s*$")

# What each technician action moves the booking to (the app's endpoints use the same targets).
ACTION_TARGETS = {
    "accept": BookingStatus.ACCEPTED,
    "decline": BookingStatus.PENDING,
    "en_route": BookingStatus.EN_ROUTE,
    "arrived": BookingStatus.ARRIVED,
    "start": BookingStatus.IN_PROGRESS,
    "complete": BookingStatus.COMPLETED,
}


class Outcome:
    ACCEPTED = "accepted"
    DECLINED = "declined"
    DONE = "done"  # any other action (en route, start, complete)
    NOT_ALLOWED = "not_allowed"
    UNKNOWN_CODE = "unknown_code"
    HELP = "help"
    UNKNOWN_SENDER = "unknown_sender"


@dataclass(frozen=True)
class ActionResult:
    outcome: str
    booking: Booking | None
    reply: str


def technician_for_phone(raw: str) -> User | None:
    """The active technician whose verified phone number sent this (None for anyone else)."""
    try:
        phone = normalize_phone(raw)
    except InvalidPhoneNumber:
        return None
    return (
        User.objects.filter(
            phone_number=phone, role=Role.TECHNICIAN, is_active=True, is_phone_verified=True
        )
        .only("pk", "preferred_language", "phone_number", "role", "is_active")
        .first()
    )


def sms_offer_enrolment_start(
    *, technician: User, language: str | None = None
) -> SmsOfferEnrolment:
    """Enrol the technician for job offers by SMS on their verified phone (again, if they had stopped).

    `language` ("en"/"sw"), when given, becomes the technician's language: the offer, the replies, the
    USSD menu and the app's own SMS notifications all reach the same phone, so they speak one language.
    """
    if technician.role != Role.TECHNICIAN:
        raise TechniciansOnly()
    if not technician.phone_number or not technician.is_phone_verified:
        raise PhoneNotVerified()
    with transaction.atomic():
        if language:
            user_update(user=technician, data={"preferred_language": language})
        try:
            with transaction.atomic():
                enrolment, _created = SmsOfferEnrolment.objects.update_or_create(
                    technician=technician, defaults={"is_active": True}
                )
        except IntegrityError:  # the same technician enrolling twice at once: the other insert won
            enrolment = SmsOfferEnrolment.objects.get(technician=technician)
            if not enrolment.is_active:
                enrolment.is_active = True
                enrolment.save(update_fields=["is_active", "updated_at"])
    return enrolment


def sms_offer_enrolment_stop(*, technician: User) -> None:
    """Stop job offers by SMS (idempotent). The row stays, inactive; open offer codes still answer."""
    SmsOfferEnrolment.objects.filter(technician=technician, is_active=True).update(
        is_active=False, updated_at=timezone.now()
    )


def _open_work_q(technician):
    return {"booking__technician_id": technician.pk, "booking__status__in": ACTIVE_STATUSES}


def offer_code_issue(*, booking: Booking, technician) -> str:
    """The technician's code for `booking`: the existing one, or a new one unique among their codes.

    Codes of bookings that are no longer the technician's open work are freed first, so four digits last.
    """
    existing = OfferCode.objects.filter(booking=booking, technician=technician).first()
    if existing is not None:
        return existing.code
    for _ in range(_CODE_ATTEMPTS):
        with transaction.atomic():
            OfferCode.objects.filter(technician=technician).exclude(
                **_open_work_q(technician)
            ).delete()
            taken = set(
                OfferCode.objects.filter(technician=technician).values_list("code", flat=True)
            )
            code = f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"
            if code in taken:
                continue
            try:
                with transaction.atomic():
                    OfferCode.objects.create(booking=booking, technician=technician, code=code)
            except IntegrityError:
                # A concurrent issue won the code, or the same booking's code: read it back.
                existing = OfferCode.objects.filter(booking=booking, technician=technician).first()
                if existing is not None:
                    return existing.code
                continue
            return code
    raise RuntimeError("no free offer code")  # 20 draws from 10,000 against a handful of open jobs


def offer_sms_claim(*, booking: Booking, technician: User) -> str | None:
    """The offer's answer code when this caller is the one to text it, None when it was texted already.

    The claim (`offer_sms_sent_at`) is taken before sending, so concurrent or redelivered requests for the
    same offer send one SMS; a send that fails gives the claim back (`offer_sms_claim_release`).
    """
    code = offer_code_issue(booking=booking, technician=technician)
    claimed = OfferCode.objects.filter(
        booking=booking, technician=technician, offer_sms_sent_at__isnull=True
    ).update(offer_sms_sent_at=timezone.now())
    return code if claimed else None


def offer_sms_claim_release(*, booking: Booking, technician: User) -> None:
    """The offer SMS did not leave: a retry (or the next event for the booking) may send it."""
    OfferCode.objects.filter(booking=booking, technician=technician).update(offer_sms_sent_at=None)


def _reply(technician, template: str, **context) -> str:
    return render_sms(
        template=f"featurephone/{template}",
        context=context,
        language=getattr(technician, "preferred_language", "en") or "en",
    )


def technician_action(*, technician, booking: Booking, action: str, channel: str) -> ActionResult:
    """Apply one technician action (accept, decline, en_route, arrived, start, complete) as the app would."""
    target = ACTION_TARGETS[action]
    try:
        booking_transition(booking=booking, to=target, actor=technician, note=f"via {channel}")
    except ApplicationError as exc:
        booking.refresh_from_db(fields=["status", "technician"])
        return ActionResult(
            Outcome.NOT_ALLOWED,
            booking,
            _reply(technician, "not_allowed", booking=booking, reason=exc.code, action=action),
        )
    outcome = {"accept": Outcome.ACCEPTED, "decline": Outcome.DECLINED}.get(action, Outcome.DONE)
    return ActionResult(
        outcome, booking, _reply(technician, outcome, booking=booking, action=action)
    )


def sms_answer(*, technician, text: str) -> ActionResult:
    """Read `YES 4821` / `NO 4821` (NDIO/HAPANA, any case) and act on the technician's booking."""
    match = _ANSWER.match(text or "")
    word = match.group(1).upper() if match else ""
    if word in ACCEPT_WORDS:
        action = "accept"
    elif word in DECLINE_WORDS:
        action = "decline"
    else:
        return ActionResult(Outcome.HELP, None, _reply(technician, "help"))
    code = match.group(2)
    offer = (
        OfferCode.objects.filter(technician=technician, code=code).select_related("booking").first()
    )
    if offer is None:
        return ActionResult(
            Outcome.UNKNOWN_CODE, None, _reply(technician, "unknown_code", code=code)
        )
    return technician_action(
        technician=technician, booking=offer.booking, action=action, channel="sms"
    )


def inbound_sms_record(
    *,
    provider_message_id: str,
    phone_number: str,
    text: str,
    to: str = "",
    link_id: str = "",
    provider_date: str = "",
    remote_addr: str | None = None,
) -> tuple[InboundSms, bool]:
    """Store one inbound SMS under Africa's Talking's id and act on it. Returns (row, created).

    A replay finds the stored row and changes nothing (no second transition, no second reply). Senders who
    are not a technician with that verified number get no reply (an SMS costs us money).
    """
    from featurephone import tasks  # cycle: tasks call back into services

    with transaction.atomic():
        try:
            with transaction.atomic():
                row = InboundSms.objects.create(
                    provider_message_id=provider_message_id,
                    phone_number=phone_number[:32],
                    to=to[:32],
                    text=text,
                    link_id=link_id[:100],
                    provider_date=provider_date[:40],
                    remote_addr=remote_addr or None,
                )
        except IntegrityError:
            return InboundSms.objects.get(provider_message_id=provider_message_id), False
        technician = technician_for_phone(phone_number)
        if technician is None:
            row.outcome = Outcome.UNKNOWN_SENDER
        else:
            result = sms_answer(technician=technician, text=text)
            row.technician = technician
            row.booking = result.booking
            row.outcome = result.outcome
            row.reply = result.reply
        row.status = InboundSmsStatus.PROCESSED
        row.save(update_fields=["technician", "booking", "outcome", "reply", "status"])
        if row.reply:
            enqueue_after_commit(tasks.inbound_sms_reply_send, row.pk)
    return row, True
