"""Ticket numbers: TKT-YYMM-NNNNNN (`dumuwaks.core.numbering`; the sequence is created in migration 0001)."""

from dumuwaks.core.numbering import next_number

TICKET_NUMBER_SEQUENCE = "support_ticket_number_seq"


def next_ticket_number(at=None) -> str:
    return next_number(prefix="TKT", sequence=TICKET_NUMBER_SEQUENCE, at=at)
