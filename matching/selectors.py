"""Reads for matching: the candidate pre-filter (one SQL query), booking-derived stats, match lists."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import (
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import KycStatus, Role, ServiceCategory, User
from bookings import rules as bookings_rules
from bookings import selectors as bookings_selectors
from bookings.models import ACTIVE_STATUSES, Booking, BookingStatus, BookingStatusHistory
from dumuwaks.core.filtering import filter_queryset
from matching.filters import MatchFilter
from matching.models import CustomerBlock, Match, MatchingPreference
from matching.scoring import (
    AVAILABILITY_BUFFER_MINUTES,
    DEFAULT_WEIGHTS,
    EARTH_RADIUS_KM,
    Candidate,
    bounding_box,
)
from notifications.models import ConversationParticipant, Message

# Bookings that count as a job done by the technician.
DONE_STATUSES = (BookingStatus.COMPLETED, BookingStatus.CONFIRMED, BookingStatus.RESOLVED)

# One query, shaped for the partial GiST index `matching_technician_location_gist` (migration 0002) on
# point(longitude, latitude) of active technicians: the box condition and the KNN ordering (`<->`) both run
# on that index, the profile and the skill are index probes per row, and PostgreSQL stops after `cap` rows.
# Degrees-as-Euclidean ordering is nearly proportional to distance on the equator (Kenya spans ±5°), and the
# exact haversine decides eligibility.
# Only module constants are interpolated into the text; every input is a bound parameter.
CANDIDATES_SQL = f"""
SELECT u.id, u.first_name, u.last_name,
       p.hourly_rate, p.rating_average, p.rating_count, p.jobs_completed,
       p.jobs_cancelled_by_technician, p.average_response_minutes,
       s.years_of_experience,
       (SELECT count(*) FROM accounts_technicianskill s2 WHERE s2.profile_id = p.id) AS skill_count,
       d.distance_km
FROM accounts_user u
JOIN accounts_technicianprofile p ON p.user_id = u.id
JOIN accounts_technicianskill s ON s.profile_id = p.id AND s.category_id = %(category_id)s
CROSS JOIN LATERAL (
    SELECT 2 * {EARTH_RADIUS_KM} * asin(least(1.0, sqrt(
        power(sin(radians(u.latitude - %(lat)s) / 2), 2)
        + cos(radians(%(lat)s)) * cos(radians(u.latitude))
          * power(sin(radians(u.longitude - %(lng)s) / 2), 2)
    ))) AS distance_km
) d
WHERE u.role = '{Role.TECHNICIAN.value}' AND u.is_active
  AND u.latitude IS NOT NULL AND u.longitude IS NOT NULL
  AND u.deleted_at IS NULL
  AND point(u.longitude, u.latitude) <@ box(point(%(min_lng)s, %(min_lat)s),
                                            point(%(max_lng)s, %(max_lat)s))
  AND p.kyc_status = '{KycStatus.APPROVED.value}' AND p.is_available
  AND d.distance_km <= least(p.service_radius_km::float8, %(max_km)s)
  AND NOT EXISTS (
      SELECT 1 FROM matching_customerblock b
      WHERE b.customer_id = %(customer_id)s AND b.technician_id = u.id
  )
ORDER BY point(u.longitude, u.latitude) <-> point(%(lng)s, %(lat)s)
LIMIT %(cap)s
"""  # noqa: S608


def candidate_rows(
    *,
    customer_id: int,
    category_id: int,
    latitude: float,
    longitude: float,
    max_distance_km: float,
    cap: int,
) -> list[Candidate]:
    """Technicians who have the skill, approved KYC, are available and active, lie within both the customer's
    maximum distance and their own service radius, and are not blocked by the customer; nearest `cap`."""
    min_lat, max_lat, min_lng, max_lng = bounding_box(latitude, longitude, max_distance_km)
    params = {
        "category_id": category_id,
        "lat": latitude,
        "lng": longitude,
        "min_lat": min_lat,
        "max_lat": max_lat,
        "min_lng": min_lng,
        "max_lng": max_lng,
        "max_km": float(max_distance_km),
        "customer_id": customer_id,
        "cap": cap,
    }
    nested = connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        # PostgreSQL estimates `point <@ box` at a fixed 0.1 % of rows, so it prefers a bitmap scan of the
        # whole box plus a sort (35k rows in Nairobi) to the KNN index scan that stops after `cap`
        # eligible rows; the box still bounds the KNN scan in sparse areas.
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(CANDIDATES_SQL, params)
        rows = cursor.fetchall()
        if nested:  # do not leak the planner setting into the caller's transaction
            cursor.execute("RESET enable_bitmapscan")
    return [
        Candidate(
            technician_id=row[0],
            name=f"{row[1]} {row[2]}".strip(),
            hourly_rate=row[3],
            rating_average=float(row[4]),
            rating_count=row[5],
            jobs_completed=row[6],
            jobs_cancelled_by_technician=row[7],
            average_response_minutes=row[8],
            years_of_experience=row[9],
            skill_count=row[10],
            distance_km=row[11],
        )
        for row in rows
    ]


def busy_technician_ids(*, technician_ids: list[int], start: datetime, end: datetime) -> set[int]:
    """The one adapter to the bookings availability rules (overlapping active bookings, time off, outside
    weekly working hours)."""
    if not technician_ids:
        return set()
    return set(
        bookings_selectors.busy_technician_ids(technician_ids=technician_ids, start=start, end=end)
    )


def _id_array(technician_ids: list[int]) -> RawSQL:
    # One array parameter instead of one placeholder per id (300 ids per search).
    return RawSQL("SELECT unnest(%s::bigint[])", (sorted(technician_ids),))


def booking_stats(
    *,
    technician_ids: list[int],
    category_id: int,
    customer_id: int,
    start: datetime,
    end: datetime,
) -> dict[int, tuple[int, int, float | None, float | None]]:
    """technician id → (jobs done in this category, confirmed jobs done for this customer, minutes between
    the requested slot and their nearest other active booking within the availability buffer, or None,
    guarantee return-visit rate or None: bookings.selectors.return_visit_rates' rule).

    One grouped query. Overlapping bookings are the busy filter's business, so gaps here are ≥ 0."""
    if not technician_ids:
        return {}
    buffer = timedelta(minutes=AVAILABILITY_BUFFER_MINUTES)
    done = Q(status__in=DONE_STATUSES)
    nearby = Q(
        status__in=ACTIVE_STATUSES,
        scheduled_start__lt=end + buffer,
        scheduled_end__gt=start - buffer,
    )
    # The return-visit rate's jobs (same rule as bookings.selectors.return_visit_rates, in this query).
    recent = Q(
        status__in=bookings_selectors.CONFIRMED_JOB_STATUSES,
        confirmed_at__gte=timezone.now() - bookings_rules.RETURN_VISIT_RATE_WINDOW,
    )
    gap = Greatest(
        ExpressionWrapper(
            Value(start, output_field=DateTimeField()) - F("scheduled_end"),
            output_field=DurationField(),
        ),
        ExpressionWrapper(
            F("scheduled_start") - Value(end, output_field=DateTimeField()),
            output_field=DurationField(),
        ),
        Value(timedelta(0), output_field=DurationField()),
    )
    rows = (
        Booking.objects.filter(technician_id__in=_id_array(technician_ids))
        .filter(done | nearby | recent)
        .values("technician_id")
        .annotate(
            category_jobs=Count("id", filter=done & Q(category_id=category_id)),
            customer_jobs=Count(
                "id", filter=Q(customer_id=customer_id, status=BookingStatus.CONFIRMED)
            ),
            nearest_gap=Min(gap, filter=nearby),
            recent_jobs=Count("id", filter=recent),
            recent_claims=Count(
                "guarantee_claim", filter=recent & bookings_selectors.RETURN_VISIT_CLAIM
            ),
        )
    )
    return {
        r["technician_id"]: (
            r["category_jobs"],
            r["customer_jobs"],
            r["nearest_gap"].total_seconds() / 60 if r["nearest_gap"] is not None else None,
            r["recent_claims"] / r["recent_jobs"]
            if r["recent_jobs"] >= bookings_rules.RETURN_VISIT_RATE_MIN_JOBS
            else None,
        )
        for r in rows
    }


def preference_for(customer) -> MatchingPreference:
    """The customer's preferences (an unsaved default when they never set any), with preferred ids."""
    preference = (
        MatchingPreference.objects.filter(customer=customer)
        .prefetch_related("preferred_technicians")
        .first()
    )
    return preference or MatchingPreference(customer=customer)


def preferred_technician_ids(preference: MatchingPreference) -> set[int]:
    if preference.pk is None:
        return set()
    return {t.pk for t in preference.preferred_technicians.all()}


def effective_weights(preference: MatchingPreference) -> dict[str, float]:
    """Learned weights win, then the customer's own, then the platform defaults."""
    return dict(preference.learned_weights or preference.custom_weights or DEFAULT_WEIGHTS)


def base_weights(preference: MatchingPreference) -> dict[str, float]:
    return dict(preference.custom_weights or DEFAULT_WEIGHTS)


def match_list_for_customer(*, customer, filters: Mapping | None = None) -> QuerySet[Match]:
    """`filters`: the query parameters of MatchFilter (a 400 if invalid)."""
    queryset = filter_queryset(
        MatchFilter,
        data=filters,
        queryset=Match.objects.filter(customer=customer).select_related(
            "technician", "technician__technician_profile", "category"
        ),
    )
    return queryset.order_by("-searched_at", "rank", "id")


def match_get_for_customer(*, customer, match_id: int) -> Match | None:
    return (
        match_list_for_customer(customer=customer)
        .prefetch_related("status_history")
        .filter(pk=match_id)
        .first()
    )


def customer_blocks(*, customer) -> QuerySet[CustomerBlock]:
    """The technicians a customer blocked, latest first, with what the list shows of them."""
    return (
        CustomerBlock.objects.filter(customer=customer)
        .select_related("technician", "technician__technician_profile")
        .order_by("-created_at", "-id")
    )


def favourite_technicians(*, customer) -> QuerySet[User]:
    """A customer's favourite (preferred) technicians by name, inactive ones included (they can be
    removed, and matching never suggests them anyway)."""
    return (
        User.objects.filter(preferred_by__customer=customer)
        .select_related("technician_profile")
        .order_by("first_name", "last_name", "id")
    )


def category_resolve(*, category_id: int | None = None, slug: str | None = None):
    """The active category named by id or slug, or None."""
    queryset = ServiceCategory.objects.filter(is_active=True)
    if category_id is not None:
        return queryset.filter(pk=category_id).first()
    if slug:
        return queryset.filter(slug=slug).first()
    return None


# --- Response time -----------------------------------------------------------------------------------------------


def booking_response_samples(*, since: datetime) -> list[tuple[int, float]]:
    """(technician id, minutes) for every booking offer answered (accept or decline) or left to expire since
    `since`, from the booking history rows.

    The offer starts at the latest of: the booking's creation (a job request for the technician it was made
    for), the previous technician's decline (the job went back to the open pool), and, for an accept or an
    expiry, the deposit payment (accepting is impossible before it). An expiry counts against the technician
    who held the paid job without answering; an unpaid booking that expired was never theirs to accept.
    An open job taken from the pool counts from the moment it was open to everybody: the time to take it.
    """
    previous_decline = Subquery(
        BookingStatusHistory.objects.filter(
            booking_id=OuterRef("booking_id"),
            from_status=BookingStatus.PENDING,
            to_status=BookingStatus.PENDING,
            created_at__lt=OuterRef("created_at"),
        )
        .order_by("-created_at", "-id")
        .values("created_at")[:1]
    )
    answered = Q(
        from_status=BookingStatus.PENDING,
        to_status__in=(BookingStatus.ACCEPTED, BookingStatus.PENDING),
        actor__role=Role.TECHNICIAN,
    )
    expired_unanswered = Q(
        from_status=BookingStatus.PENDING,
        to_status=BookingStatus.EXPIRED,
        actor__isnull=True,
        booking__technician__isnull=False,
        booking__deposit_paid_at__isnull=False,
    )
    rows = (
        BookingStatusHistory.objects.filter(answered | expired_unanswered, created_at__gte=since)
        .annotate(previous_decline_at=previous_decline)
        .values_list(
            "actor_id",
            "booking__technician_id",
            "to_status",
            "created_at",
            "booking__created_at",
            "booking__deposit_paid_at",
            "previous_decline_at",
        )
        .order_by()
    )
    samples = []
    for actor_id, assigned_id, to_status, at, created_at, paid_at, declined_at in rows:
        starts = [created_at, declined_at]
        if to_status != BookingStatus.PENDING:  # accepting (or letting expire) needs the deposit
            starts.append(paid_at)
        offered_at = max(start for start in starts if start is not None)
        technician_id = actor_id if to_status != BookingStatus.EXPIRED else assigned_id
        samples.append((technician_id, max(0.0, (at - offered_at).total_seconds() / 60)))
    return samples


def chat_response_samples(*, since: datetime) -> list[tuple[int, float]]:
    """(technician id, minutes) for every conversation a customer opened since `since` (their first message
    came before any of the technician's) that the technician has answered: from the customer's first message
    to the technician's first reply. A conversation still unanswered gives no sample yet."""
    customer_roles = (Role.CUSTOMER, Role.CORPORATE)
    first_customer_message = Subquery(
        Message.objects.filter(
            conversation_id=OuterRef("conversation_id"), sender__role__in=customer_roles
        )
        .order_by("created_at", "id")
        .values("created_at")[:1]
    )
    first_reply = Subquery(
        Message.objects.filter(
            conversation_id=OuterRef("conversation_id"),
            sender_id=OuterRef("user_id"),
            created_at__gt=OuterRef("opened_at"),
        )
        .order_by("created_at", "id")
        .values("created_at")[:1]
    )
    technician_wrote_first = Exists(
        Message.objects.filter(
            conversation_id=OuterRef("conversation_id"),
            sender_id=OuterRef("user_id"),
            created_at__lte=OuterRef("opened_at"),
        )
    )
    rows = (
        ConversationParticipant.objects.filter(user__role=Role.TECHNICIAN)
        .annotate(opened_at=first_customer_message)
        .filter(opened_at__gte=since)
        .annotate(replied_at=first_reply, technician_first=technician_wrote_first)
        .filter(replied_at__isnull=False, technician_first=False)
        .values_list("user_id", "opened_at", "replied_at")
        .order_by()
    )
    return [
        (user_id, (replied_at - opened_at).total_seconds() / 60)
        for user_id, opened_at, replied_at in rows
    ]
