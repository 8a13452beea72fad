"""Platform analytics for staff, computed in PostgreSQL (aggregate/annotate, Trunc* in Africa/Nairobi).

Every figure is defined in support/analytics/definitions.py. Date filters are inclusive calendar days in
Nairobi time. Money comes from the payments ledger (accounts and references in payments/services/ledger.py).
One module per report: `bookings`, `revenue`, `technicians`; what they share (day bounds, the ledger's
account groups and event references) is in `common`.
"""

from support.analytics.selectors.bookings import booking_analytics
from support.analytics.selectors.common import LEDGER_EVENTS, PERIOD_TRUNCS
from support.analytics.selectors.revenue import REVENUE_METRICS, revenue_analytics
from support.analytics.selectors.technicians import TECHNICIAN_ORDERINGS, technician_performance

__all__ = [
    "LEDGER_EVENTS",
    "PERIOD_TRUNCS",
    "REVENUE_METRICS",
    "TECHNICIAN_ORDERINGS",
    "booking_analytics",
    "revenue_analytics",
    "technician_performance",
]
