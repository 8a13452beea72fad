"""Bookings created in a range: totals, by status, by category, by Nairobi day."""

from __future__ import annotations

from datetime import date

from django.db.models import Count
from django.db.models.functions import TruncDay

from bookings.models import Booking
from support.analytics.selectors.common import NAIROBI, in_range, local_date, money_sum


def booking_analytics(*, date_from: date | None = None, date_to: date | None = None) -> dict:
    """Bookings created in the range: totals, by status, by category, by Nairobi day."""
    qs = in_range(Booking.objects.order_by(), "created_at", date_from, date_to)
    totals = qs.aggregate(total=Count("id"), gross_value=money_sum("price"))
    by_status = [
        {"status": row["status"], "count": row["count"], "gross_value": row["gross_value"]}
        for row in qs.values("status")
        .annotate(count=Count("id"), gross_value=money_sum("price"))
        .order_by("status")
    ]
    by_category = [
        {
            "category_id": row["category_id"],
            "slug": row["category__slug"],
            "name": row["category__name"],
            "count": row["count"],
            "gross_value": row["gross_value"],
        }
        for row in qs.values("category_id", "category__slug", "category__name")
        .annotate(count=Count("id"), gross_value=money_sum("price"))
        .order_by("-count", "category__slug")
    ]
    by_day = [
        {"date": local_date(row["day"]), "count": row["count"], "gross_value": row["gross_value"]}
        for row in qs.annotate(day=TruncDay("created_at", tzinfo=NAIROBI))
        .values("day")
        .annotate(count=Count("id"), gross_value=money_sum("price"))
        .order_by("day")
    ]
    return {
        "date_from": date_from,
        "date_to": date_to,
        "total": totals["total"],
        "gross_value": totals["gross_value"],
        "by_status": by_status,
        "by_category": by_category,
        "by_day": by_day,
    }
