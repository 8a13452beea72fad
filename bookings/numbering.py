"""Booking numbers: DW-YYMM-NNNNNN (`dumuwaks.core.numbering`; the sequence is created in migration 0002)."""

from dumuwaks.core.numbering import next_number

BOOKING_NUMBER_SEQUENCE = "bookings_booking_number_seq"


def next_booking_number(at=None) -> str:
    return next_number(prefix="DW", sequence=BOOKING_NUMBER_SEQUENCE, at=at)
