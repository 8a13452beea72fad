"""Each technician's response time: the median minutes to answer, over a rolling window, stored on the profile
(`TechnicianProfile.average_response_minutes`) for matching's response-time factor and the public profile.

Samples (matching.selectors): booking offers answered, declined or left to expire, and customer-opened
conversations answered. Why the median of the last 90 days: response times are heavy-tailed (one job request
seen the next morning would dominate a mean), 90 days holds enough answers for a technician with a few jobs a
week while still following a change of habits, and fewer than RESPONSE_TIME_MIN_SAMPLES answers say too little
about a technician: they stay unknown (the factor's neutral 0.5) rather than judged on one reply.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import TechnicianProfile
from matching import selectors

RESPONSE_TIME_WINDOW = timedelta(days=90)
RESPONSE_TIME_MIN_SAMPLES = 3


def response_minutes_median(samples: list[float]) -> int | None:
    """The median in whole minutes (half up), None below RESPONSE_TIME_MIN_SAMPLES samples."""
    if len(samples) < RESPONSE_TIME_MIN_SAMPLES:
        return None
    median = Decimal(str(statistics.median(samples)))
    return int(median.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def technician_response_times_refresh(*, now=None) -> int:
    """Recompute every technician's response time from the window ending `now`; returns how many profiles
    changed. Idempotent; technicians whose samples aged out go back to unknown (None)."""
    since = (now or timezone.now()) - RESPONSE_TIME_WINDOW
    samples: dict[int, list[float]] = defaultdict(list)
    for technician_id, minutes in (
        *selectors.booking_response_samples(since=since),
        *selectors.chat_response_samples(since=since),
    ):
        samples[technician_id].append(minutes)
    computed = {tid: response_minutes_median(values) for tid, values in samples.items()}
    computed = {tid: minutes for tid, minutes in computed.items() if minutes is not None}

    # No row locks: this task is the only writer of the column, and bulk_update writes that column alone,
    # so the services updating a profile's other aggregates meanwhile are neither blocked nor overwritten.
    profiles = (
        TechnicianProfile.objects.filter(
            Q(user_id__in=list(computed)) | Q(average_response_minutes__isnull=False)
        )
        .only("id", "user_id", "average_response_minutes")
        .order_by("id")
    )
    changed = []
    for profile in profiles:
        value = computed.get(profile.user_id)
        if profile.average_response_minutes != value:
            profile.average_response_minutes = value
            changed.append(profile)
    with transaction.atomic():
        TechnicianProfile.objects.bulk_update(changed, ["average_response_minutes"], batch_size=500)
    return len(changed)
