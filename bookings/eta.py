"""How far the technician is and when they should arrive: straight-line distance and a speed model.

No routing service is called (no API key, no per-request cost, no customer address sent to a third party,
and it works offline in tests). Instead:

    distance_m  = haversine(technician's position, the booking's latitude/longitude)
    road_m      = distance_m × ROAD_FACTOR
    eta_seconds = max(MIN_ETA_SECONDS, road_m / speed(local time of the position))

rounded up to whole minutes' worth of seconds (ETA_ROUNDING_SECONDS), because a countdown to the second
promises a precision this model does not have.

Why these numbers (Nairobi, where most jobs are; they are planning estimates to be tuned, not measurements
of ours):
- ROAD_FACTOR 1.4: in cities the road distance between two points is typically 1.2–1.5 times the
  straight line (the "circuity" reported for road networks); Nairobi's estates are reached through few
  arterial roads, so we take the upper middle of that range.
- Speeds by local time of day (Africa/Nairobi): published corridor surveys put Nairobi's peak-hour traffic
  in the low teens of km/h on the main roads, off-peak daytime around 20 km/h and late evening/night around
  30 km/h. Technicians travel by matatu, boda boda, motorbike or car; one speed table for every mode keeps
  the model explainable (a boda boda beats it at peak; the ETA errs late rather than early).
  Weekends have no commuter peak: the off-peak daytime speed applies all day.
- MIN_ETA_SECONDS 2 min: even next door the technician parks, finds the gate and is let in; "0 min" while
  still en route would read as "here" and is wrong.
- Once the booking is `arrived` the ETA is 0 (the technician is there, whatever the GPS says).

The history rows keep when each booking went en_route and arrived, so the table can be calibrated from real
trips later (compare the first ETA of a trip with the arrived row's time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.utils import timezone

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG), metres
ROAD_FACTOR = 1.4
MIN_ETA_SECONDS = 120
ETA_ROUNDING_SECONDS = 60

# (start of the band in local time, km/h); each band runs until the next one starts (weekdays).
WEEKDAY_SPEEDS_KMH: tuple[tuple[time, float], ...] = (
    (time(0, 0), 30.0),  # night: free-flowing
    (time(6, 0), 12.0),  # morning peak
    (time(9, 30), 20.0),  # daytime off-peak
    (time(16, 30), 12.0),  # evening peak
    (time(20, 0), 30.0),  # evening: free-flowing again
)
WEEKEND_DAY_SPEED_KMH = 20.0  # Saturday and Sunday 06:00–20:00: no commuter peak
NIGHT_SPEED_KMH = 30.0


@dataclass(frozen=True)
class Eta:
    distance_m: int  # straight line, as the crow flies
    eta_seconds: int
    eta_at: datetime  # the position's time + eta_seconds


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres between two WGS84 points (degrees)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lng2 - lng1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def speed_kmh(at: datetime) -> float:
    """The model's average travel speed at `at` (aware), read in Africa/Nairobi local time."""
    local = timezone.localtime(at)
    clock = local.time()
    if local.weekday() >= 5:  # Saturday, Sunday
        return WEEKEND_DAY_SPEED_KMH if time(6, 0) <= clock < time(20, 0) else NIGHT_SPEED_KMH
    speed = WEEKDAY_SPEEDS_KMH[0][1]
    for starts, band_speed in WEEKDAY_SPEEDS_KMH:
        if clock >= starts:
            speed = band_speed
    return speed


def eta_from(
    *, lat: float, lng: float, job_lat: float, job_lng: float, at: datetime, arrived: bool = False
) -> Eta:
    """Distance and ETA from a position recorded at `at` to the job. `arrived`: the booking says the
    technician is there (ETA 0)."""
    distance = haversine_m(lat, lng, job_lat, job_lng)
    if arrived:
        seconds = 0
    else:
        metres_per_second = speed_kmh(at) * 1000 / 3600
        # Whole seconds first, so float noise (1260.0000001) does not add a minute.
        raw = max(MIN_ETA_SECONDS, round(distance * ROAD_FACTOR / metres_per_second))
        seconds = -(-raw // ETA_ROUNDING_SECONDS) * ETA_ROUNDING_SECONDS
    return Eta(
        distance_m=round(distance), eta_seconds=seconds, eta_at=at + timedelta(seconds=seconds)
    )
