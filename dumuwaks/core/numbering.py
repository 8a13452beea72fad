"""Human-readable numbers for records people quote on the phone (DW-YYMM-NNNNNN for bookings, TKT-… for
tickets): a prefix, the Nairobi month of creation and a database sequence.

Each sequence (created by its app's migration) is global and never reused, so numbers are unique without
counting rows and concurrent creations never collide. Past 999999 the counter simply grows a digit.
"""

from django.db import connection
from django.utils import timezone


def next_number(*, prefix: str, sequence: str, at=None) -> str:
    at = timezone.localtime(at or timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s)", [sequence])
        (value,) = cursor.fetchone()
    return f"{prefix}-{at:%y%m}-{value:06d}"
