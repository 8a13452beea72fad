"""The ETA model (bookings/eta.py): straight-line distance, road factor, speed by Nairobi time of day."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bookings import eta

NAIROBI = ZoneInfo("Africa/Nairobi")
MONDAY = datetime(2026, 12, 7, tzinfo=NAIROBI)
SATURDAY = datetime(2026, 12, 12, tzinfo=NAIROBI)


def test_haversine_one_degree_of_latitude_and_symmetry():
    assert eta.haversine_m(0, 0, 1, 0) == pytest.approx(111_195, abs=1)
    assert eta.haversine_m(-1.2921, 36.8219, -1.2921, 36.8219) == 0
    a = eta.haversine_m(-1.2921, 36.8219, -1.3192, 36.9278)
    assert a == pytest.approx(eta.haversine_m(-1.3192, 36.9278, -1.2921, 36.8219))
    assert 12_000 < a < 12_500  # Kilimani to JKIA, as the crow flies


def test_antipodes_do_not_fail():
    assert eta.haversine_m(0, 0, 0, 180) == pytest.approx(eta.EARTH_RADIUS_M * 3.14159265, rel=1e-6)


@pytest.mark.parametrize(
    ("when", "kmh"),
    [
        (MONDAY.replace(hour=3), 30.0),
        (MONDAY.replace(hour=6), 12.0),  # a band starts at its boundary
        (MONDAY.replace(hour=7, minute=45), 12.0),
        (MONDAY.replace(hour=9, minute=29), 12.0),
        (MONDAY.replace(hour=9, minute=30), 20.0),
        (MONDAY.replace(hour=13), 20.0),
        (MONDAY.replace(hour=17), 12.0),
        (MONDAY.replace(hour=20), 30.0),
        (MONDAY.replace(hour=23, minute=59), 30.0),
        (SATURDAY.replace(hour=8), 20.0),  # no commuter peak at weekends
        (SATURDAY.replace(hour=17), 20.0),
        (SATURDAY.replace(hour=21), 30.0),
        (SATURDAY.replace(hour=5), 30.0),
    ],
)
def test_speed_by_local_time(when, kmh):
    assert eta.speed_kmh(when) == kmh


def test_speed_reads_nairobi_time_whatever_the_offset_given():
    # 05:00 UTC on a Monday is 08:00 in Nairobi: the morning peak.
    assert eta.speed_kmh(datetime(2026, 12, 7, 5, 0, tzinfo=ZoneInfo("UTC"))) == 12.0


def test_eta_is_road_distance_over_speed_rounded_up_to_the_minute():
    at = MONDAY.replace(hour=13)
    # 5 km due north of the job (1 degree of latitude = 111.195 km).
    lat = -1.2921 + 5 / 111.195
    result = eta.eta_from(lat=lat, lng=36.8219, job_lat=-1.2921, job_lng=36.8219, at=at)
    assert result.distance_m == pytest.approx(5000, abs=1)
    # 5000 m x 1.4 = 7000 m of road at 20 km/h (5.56 m/s) = 1260 s, already whole minutes.
    assert result.eta_seconds == 1260
    assert result.eta_at == at + timedelta(seconds=1260)
    peak = eta.eta_from(
        lat=lat, lng=36.8219, job_lat=-1.2921, job_lng=36.8219, at=at.replace(hour=8)
    )
    assert peak.eta_seconds == 2100  # 7000 m at 12 km/h


def test_eta_never_below_the_minimum_and_zero_once_arrived():
    at = MONDAY.replace(hour=13)
    near = eta.eta_from(lat=-1.2921, lng=36.8220, job_lat=-1.2921, job_lng=36.8219, at=at)
    assert near.distance_m == 11 and near.eta_seconds == eta.MIN_ETA_SECONDS
    there = eta.eta_from(
        lat=-1.30, lng=36.8219, job_lat=-1.2921, job_lng=36.8219, at=at, arrived=True
    )
    assert there.eta_seconds == 0 and there.eta_at == at and there.distance_m > 800
