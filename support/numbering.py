"""Human-readable ticket numbers: TKT-YYMM-NNNNNN (Nairobi month of creation + a database sequence).

The sequence (created in migration 0001) is global and never reused, so numbers are unique without counting
rows and concurrent creations never collide. Past 999999 the counter simply grows a digit.
"""

from django.db import connection
from django.utils import timezone

TICKET_NUMBER_SEQUENCE = "support_ticket_number_seq"


def next_ticket_number(at=None) -> str:
    at = timezone.localtime(at or timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s)", [TICKET_NUMBER_SEQUENCE])
        (value,) = cursor.fetchone()
    return f"TKT-{at:%y%m}-{value:06d}"
