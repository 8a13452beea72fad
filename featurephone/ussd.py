"""The USSD menu a feature-phone technician walks: their open offers and current jobs, then an action.

Africa's Talking posts the whole path each step (`text` = answers joined by `*`); the menu is rebuilt from it,
so nothing is kept between steps. `0` on the first screen switches English/Kiswahili for the session.
The screen that acts is stored under (sessionId, text) so a replayed step answers the same without acting twice.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from bookings.models import Booking, BookingStatus
from featurephone.models import UssdStep
from featurephone.services import technician_action, technician_for_phone

MAX_JOBS = 5  # a USSD screen holds ~182 characters
SWITCH_LANGUAGE = "0"

# What a technician may do next from each status, in menu order (same targets as the app's endpoints).
ACTIONS_BY_STATUS = {
    BookingStatus.PENDING: ("accept", "decline"),
    BookingStatus.ACCEPTED: ("en_route", "decline"),
    BookingStatus.EN_ROUTE: ("arrived",),
    BookingStatus.ARRIVED: ("start",),
    BookingStatus.IN_PROGRESS: ("complete",),
}

WORDS = {
    "en": {
        "title": "Dumu Waks jobs:",
        "no_jobs": "Dumu Waks: you have no open offers or current jobs.",
        "switch": "Kiswahili",
        "choose": "Job",
        "back": "Invalid choice.",
        "unknown": "Dumu Waks: this number is not a registered technician.",
        "accept": "Accept",
        "decline": "Decline",
        "en_route": "On my way",
        "arrived": "Arrived",
        "start": "Start work",
        "complete": "Done",
    },
    "sw": {
        "title": "Kazi za Dumu Waks:",
        "no_jobs": "Dumu Waks: huna kazi iliyo wazi wala inayoendelea.",
        "switch": "English",
        "choose": "Kazi",
        "back": "Chaguo si sahihi.",
        "unknown": "Dumu Waks: nambari hii si ya fundi aliyesajiliwa.",
        "accept": "Kubali",
        "decline": "Kataa",
        "en_route": "Niko njiani",
        "arrived": "Nimefika",
        "start": "Anza kazi",
        "complete": "Nimemaliza",
    },
}

# The job screen's status, told to the technician; English uses the status's own label. The Kiswahili words
# are those of the reply after an action (templates/sms/featurephone/done.sw.txt).
STATUS_NAMES_SW = {
    BookingStatus.PENDING: "Inasubiri jibu lako",
    BookingStatus.ACCEPTED: "Umekubali",
    BookingStatus.EN_ROUTE: "Uko njiani",
    BookingStatus.ARRIVED: "Umefika",
    BookingStatus.IN_PROGRESS: "Kazi inaendelea",
}


def _status_name(job: Booking, language: str) -> str:
    if language == "sw":
        return STATUS_NAMES_SW[job.status]
    return job.get_status_display()


def _jobs(technician) -> list[Booking]:
    return list(
        Booking.objects.filter(technician=technician, status__in=tuple(ACTIONS_BY_STATUS)).order_by(
            "scheduled_start", "pk"
        )[:MAX_JOBS]
    )


def _con(text: str) -> str:
    return f"CON {text}"


def _end(text: str) -> str:
    return f"END {text}"


def ussd_respond(*, session_id: str, phone_number: str, text: str) -> str:
    """The next screen (`CON ...`) or the last one (`END ...`) for this step of the session."""
    stored = UssdStep.objects.filter(session_id=session_id[:100], text=(text or "")[:200]).first()
    if stored is not None:
        return stored.response  # AT repeated a step that acted: same screen, no second action
    technician = technician_for_phone(phone_number)
    language = getattr(technician, "preferred_language", "en") or "en"
    parts = [part.strip() for part in (text or "").split("*")] if text else []
    while parts and parts[0] == SWITCH_LANGUAGE:
        language = "sw" if language == "en" else "en"
        parts.pop(0)
    words = WORDS.get(language, WORDS["en"])
    if technician is None:
        return _end(words["unknown"])
    jobs = _jobs(technician)
    if not parts:
        if not jobs:
            return _end(words["no_jobs"])
        lines = [words["title"]]
        lines += [f"{i}. {job.number} {job.title[:24]}" for i, job in enumerate(jobs, start=1)]
        lines.append(f"{SWITCH_LANGUAGE}. {words['switch']}")
        return _con("\n".join(lines))
    choice = int(parts[0]) if parts[0].isdigit() else 0
    if not 1 <= choice <= len(jobs):
        return _end(words["back"])
    job = jobs[choice - 1]
    actions = ACTIONS_BY_STATUS[job.status]
    if len(parts) == 1:
        lines = [f"{words['choose']} {job.number} ({_status_name(job, language)})"]
        lines += [f"{i}. {words[action]}" for i, action in enumerate(actions, start=1)]
        return _con("\n".join(lines))
    picked = int(parts[1]) if parts[1].isdigit() else 0
    if len(parts) > 2 or not 1 <= picked <= len(actions):
        return _end(words["back"])
    return _act(
        session_id=session_id,
        text=text,
        technician=technician,
        job=job,
        action=actions[picked - 1],
        language=language,
    )


def _act(
    *, session_id: str, text: str, technician, job: Booking, action: str, language: str
) -> str:
    with transaction.atomic():
        try:
            with transaction.atomic():
                # Claim the step first: a retried or racing copy waits here, then reads the stored answer.
                step = UssdStep.objects.create(
                    session_id=session_id[:100], text=text[:200], technician=technician, booking=job
                )
        except IntegrityError:
            return UssdStep.objects.get(session_id=session_id[:100], text=text[:200]).response
        technician.preferred_language = (
            language  # the session's language, for this reply only (not saved)
        )
        result = technician_action(
            technician=technician, booking=job, action=action, channel="ussd"
        )
        step.outcome = result.outcome
        step.response = _end(result.reply)
        step.save(update_fields=["outcome", "response"])
    return step.response
