"""Human-readable booking numbers: DW-YYMM-NNNNNN (Nairobi month of creation + a database sequence).

The sequence (created in migration 0002) is global and never reused, so numbers are unique without counting
rows and concurrent creations never collide. Past 999999 the counter simply grows a digit.
"""

from django.db import connection
from django.utils import timezone

BOOKING_NUMBER_SEQUENCE = "bookings_booking_number_seq"


def next_booking_number(at=None) -> str:
    at = timezone.localtime(at or timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s)", [BOOKING_NUMBER_SEQUENCE])
        (value,) = cursor.fetchone()
    return f"DW-{at:%y%m}-{value:06d}"
