"""Texts of every notification type, in English and Kiswahili.

`render(type, language, context)` picks the user's language (falling back to English) and fills
`{placeholders}` from the context; a placeholder the producer did not supply renders as an empty string
rather than failing, so a missing detail never loses the notification.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from notifications.models import NotificationGroup as G


@dataclass(frozen=True)
class Entry:
    group: str
    en: tuple[str, str]
    sw: tuple[str, str]


CATALOGUE: dict[str, Entry] = {
    # Bookings -------------------------------------------------------------------------------------------------
    "booking.created": Entry(
        G.BOOKINGS,
        ("New job request", "{customer_name} requested {booking_title} ({booking_number})."),
        ("Ombi jipya la kazi", "{customer_name} ameomba {booking_title} ({booking_number})."),
    ),
    "booking.accepted": Entry(
        G.BOOKINGS,
        ("Booking accepted", "{technician_name} accepted your booking {booking_number}."),
        ("Ombi limekubaliwa", "{technician_name} amekubali ombi lako {booking_number}."),
    ),
    "booking.en_route": Entry(
        G.BOOKINGS,
        ("Technician on the way", "{technician_name} is on the way for {booking_number}."),
        ("Fundi yuko njiani", "{technician_name} yuko njiani kwa {booking_number}."),
    ),
    "booking.in_progress": Entry(
        G.BOOKINGS,
        ("Work started", "Work on {booking_number} has started."),
        ("Kazi imeanza", "Kazi ya {booking_number} imeanza."),
    ),
    "booking.completed": Entry(
        G.BOOKINGS,
        (
            "Job completed",
            "{technician_name} marked {booking_number} as completed. Please confirm.",
        ),
        (
            "Kazi imekamilika",
            "{technician_name} amekamilisha {booking_number}. Tafadhali thibitisha.",
        ),
    ),
    "booking.confirmed": Entry(
        G.BOOKINGS,
        ("Job confirmed", "{customer_name} confirmed {booking_number}. Well done!"),
        ("Kazi imethibitishwa", "{customer_name} amethibitisha {booking_number}. Hongera!"),
    ),
    "booking.cancelled": Entry(
        G.BOOKINGS,
        ("Booking cancelled", "Booking {booking_number} was cancelled."),
        ("Ombi limeghairiwa", "Ombi {booking_number} limeghairiwa."),
    ),
    "booking.expired": Entry(
        G.BOOKINGS,
        ("Booking expired", "Booking {booking_number} expired before it was confirmed."),
        ("Ombi limeisha muda", "Ombi {booking_number} limeisha muda kabla ya kuthibitishwa."),
    ),
    "booking.disputed": Entry(
        G.BOOKINGS,
        ("Booking disputed", "A dispute was raised on {booking_number}."),
        ("Mgogoro umefunguliwa", "Mgogoro umefunguliwa kuhusu {booking_number}."),
    ),
    "booking.resolved": Entry(
        G.BOOKINGS,
        ("Dispute resolved", "The dispute on {booking_number} was resolved."),
        ("Mgogoro umetatuliwa", "Mgogoro kuhusu {booking_number} umetatuliwa."),
    ),
    "booking.pending": Entry(
        G.BOOKINGS,
        ("Booking pending", "Booking {booking_number} is waiting for a technician."),
        ("Ombi linasubiri", "Ombi {booking_number} linasubiri fundi."),
    ),
    "booking.status_changed": Entry(
        G.BOOKINGS,
        ("Booking updated", "Booking {booking_number} is now {to_status}."),
        ("Ombi limebadilika", "Ombi {booking_number} sasa ni {to_status}."),
    ),
    "booking.deposit_paid": Entry(
        G.BOOKINGS,
        ("Deposit received", "The deposit for {booking_number} was paid. The job is confirmed."),
        ("Amana imepokelewa", "Amana ya {booking_number} imelipwa. Kazi imethibitishwa."),
    ),
    "dispute.opened": Entry(
        G.BOOKINGS,
        ("Dispute opened", "A dispute was opened on {booking_number}. Support will contact you."),
        (
            "Mgogoro umefunguliwa",
            "Mgogoro umefunguliwa kuhusu {booking_number}. Huduma kwa wateja itawasiliana nawe.",
        ),
    ),
    "dispute.resolved": Entry(
        G.BOOKINGS,
        ("Dispute resolved", "The dispute on {booking_number} has been resolved."),
        ("Mgogoro umetatuliwa", "Mgogoro kuhusu {booking_number} umetatuliwa."),
    ),
    # Payments -------------------------------------------------------------------------------------------------
    "payment.succeeded": Entry(
        G.PAYMENTS,
        ("Payment received", "We received KES {amount} for {booking_number}. Thank you!"),
        ("Malipo yamepokelewa", "Tumepokea KES {amount} kwa {booking_number}. Asante!"),
    ),
    "payment.failed": Entry(
        G.PAYMENTS,
        (
            "Payment failed",
            "Your payment for {booking_number} did not go through. Please try again.",
        ),
        (
            "Malipo hayakufaulu",
            "Malipo yako ya {booking_number} hayakufaulu. Tafadhali jaribu tena.",
        ),
    ),
    "payout.paid": Entry(
        G.PAYMENTS,
        ("Payout sent", "KES {amount} has been sent to your M-Pesa."),
        ("Malipo yametumwa", "KES {amount} zimetumwa kwa M-Pesa yako."),
    ),
    "payout.failed": Entry(
        G.PAYMENTS,
        (
            "Payout delayed",
            "We could not send KES {amount} to your M-Pesa yet. Our team is on it.",
        ),
        (
            "Malipo yamechelewa",
            "Hatukuweza kutuma KES {amount} kwa M-Pesa yako bado. Timu yetu inashughulikia.",
        ),
    ),
    "review.received": Entry(
        G.BOOKINGS,
        ("New review", "{reviewer_name} rated you {rating}/5 for {booking_number}."),
        ("Tathmini mpya", "{reviewer_name} amekupa alama {rating}/5 kwa {booking_number}."),
    ),
    "review.received_blind": Entry(
        G.BOOKINGS,
        (
            "You have a review",
            "{reviewer_name} reviewed {booking_number}. Leave your review to see theirs.",
        ),
        (
            "Umepata tathmini",
            "{reviewer_name} ametathmini {booking_number}. Toa tathmini yako uone yao.",
        ),
    ),
    # Messages -------------------------------------------------------------------------------------------------
    "social.mentioned": Entry(
        G.MESSAGES,
        ("You were mentioned", "{author_name} mentioned you in a post."),
        ("Umetajwa", "{author_name} amekutaja kwenye chapisho."),
    ),
    "message.received": Entry(
        G.MESSAGES,
        ("New message from {sender_name}", "{preview}"),
        ("Ujumbe mpya kutoka kwa {sender_name}", "{preview}"),
    ),
    # Support --------------------------------------------------------------------------------------------------
    "support.ticket_replied": Entry(
        G.SUPPORT,
        ("Support replied", "Support replied to your ticket {ticket_number}."),
        ("Huduma kwa wateja imejibu", "Huduma kwa wateja imejibu tiketi yako {ticket_number}."),
    ),
    "support.ticket_assigned": Entry(
        G.SUPPORT,
        ("Ticket assigned", "Ticket {ticket_number} was assigned to you."),
        ("Tiketi imekabidhiwa", "Tiketi {ticket_number} imekabidhiwa kwako."),
    ),
    "support.ticket_escalated": Entry(
        G.SUPPORT,
        (
            "Ticket escalated",
            "Ticket {ticket_number} was escalated to level {level} ({priority} priority).",
        ),
        (
            "Tiketi imepandishwa",
            "Tiketi {ticket_number} imepandishwa hadi kiwango {level} (kipaumbele {priority}).",
        ),
    ),
    # Account / marketing --------------------------------------------------------------------------------------
    "account.notice": Entry(
        G.ACCOUNT,
        ("{title}", "{body}"),
        ("{title}", "{body}"),
    ),
    "marketing.announcement": Entry(
        G.MARKETING,
        ("{title}", "{body}"),
        ("{title}", "{body}"),
    ),
}


GROUP_LABELS = {
    "en": {
        G.BOOKINGS: "booking",
        G.PAYMENTS: "payment",
        G.MESSAGES: "message",
        G.SUPPORT: "support",
        G.MARKETING: "offers and news",
        G.ACCOUNT: "account",
    },
    "sw": {
        G.BOOKINGS: "maombi ya huduma",
        G.PAYMENTS: "malipo",
        G.MESSAGES: "ujumbe",
        G.SUPPORT: "huduma kwa wateja",
        G.MARKETING: "ofa na habari",
        G.ACCOUNT: "akaunti",
    },
}


def group_label(group: str, language: str) -> str:
    return GROUP_LABELS.get(language, GROUP_LABELS["en"]).get(group, group)


class UnknownNotificationType(KeyError):
    pass


class _Blank(dict):
    def __missing__(self, key):
        return ""


_FORMATTER = string.Formatter()


def _fill(template: str, context: dict) -> str:
    # format_map with a forgiving dict; only plain {name} fields are used in the catalogue
    return _FORMATTER.vformat(
        template, (), _Blank({k: "" if v is None else v for k, v in context.items()})
    )


def group_of(type_: str) -> str:
    try:
        return CATALOGUE[type_].group
    except KeyError as exc:
        raise UnknownNotificationType(type_) from exc


def render(type_: str, language: str, context: dict) -> tuple[str, str]:
    try:
        entry = CATALOGUE[type_]
    except KeyError as exc:
        raise UnknownNotificationType(type_) from exc
    title, body = entry.sw if language == "sw" else entry.en
    return _fill(title, context)[:200], _fill(body, context)
