"""Places and times for matching tests. People come from accounts/tests/factories.py:
`TechnicianFactory(latitude=lat_north(3), skill=cat, profile__rating_average=4.8)`."""

from datetime import timedelta

from django.utils import timezone

BASE_LAT = -1.2921
BASE_LNG = 36.8219
KM_PER_DEGREE = 111.19508  # haversine with R = 6371.0088 km along a meridian


def lat_north(km: float) -> float:
    """Latitude `km` north of the base point (same longitude), so its distance is exactly `km`."""
    return BASE_LAT + km / KM_PER_DEGREE


def tomorrow_at(hour: int, days: int = 1):
    local = timezone.localtime() + timedelta(days=days)
    return local.replace(hour=hour, minute=0, second=0, microsecond=0)
