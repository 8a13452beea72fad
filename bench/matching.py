"""Matching benchmark: 100,000 technicians across Kenya, p50/p95 of find-technicians.

Usage (from the repository root):

    .venv/bin/python bench/matching.py [--technicians 100000] [--runs 200] [--http-runs 100]

It uses its own database (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/dw_bench; created and
migrated when missing) and seeds it once: re-runs reuse the data when enough bench technicians exist.
Technicians are spread over 25 Kenyan towns weighted roughly by population (Gaussian jitter of ~5–15 km)
plus 3 % anywhere in the country, with 1–4 of 12 trades each, 85 % KYC-approved and 90 % available.

Two measurements, each over random searches (random town + jitter, random trade, a slot tomorrow):
- service: `matching.services.match_search` called directly (ranking + storing the 10 Match rows);
- HTTP: POST /api/v1/matching/find-technicians through the full Django/DRF stack in-process with DRF's
  APIClient (JWT authentication, throttling, camelCase rendering), no network socket.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dw_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dumuwaks.settings.local")
os.environ["DEBUG"] = "false"  # no query log growing in memory
os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
os.environ.setdefault("CACHE_KEY_PREFIX", "dwbench")
os.environ.setdefault("LOG_LEVEL", "WARNING")

EMAIL_DOMAIN = "bench.dumuwaks.test"
BATCH = 5000

# (name, latitude, longitude, weight, jitter in degrees)
TOWNS = [
    ("Nairobi", -1.2921, 36.8219, 30, 0.12),
    ("Mombasa", -4.0435, 39.6682, 9, 0.08),
    ("Kisumu", -0.0917, 34.7680, 6, 0.07),
    ("Nakuru", -0.3031, 36.0800, 6, 0.07),
    ("Eldoret", 0.5143, 35.2698, 5, 0.07),
    ("Thika", -1.0333, 37.0693, 4, 0.05),
    ("Machakos", -1.5177, 37.2634, 3, 0.05),
    ("Nyeri", -0.4201, 36.9476, 3, 0.05),
    ("Meru", 0.0463, 37.6559, 3, 0.05),
    ("Kakamega", 0.2827, 34.7519, 3, 0.05),
    ("Kisii", -0.6817, 34.7667, 3, 0.05),
    ("Kericho", -0.3689, 35.2863, 2, 0.05),
    ("Naivasha", -0.7167, 36.4333, 2, 0.05),
    ("Malindi", -3.2192, 40.1169, 2, 0.05),
    ("Kitale", 1.0157, 35.0062, 2, 0.05),
    ("Garissa", -0.4532, 39.6461, 1, 0.05),
    ("Embu", -0.5389, 37.4596, 2, 0.05),
    ("Nanyuki", 0.0167, 37.0667, 1, 0.05),
    ("Kitui", -1.3670, 38.0106, 1, 0.05),
    ("Bungoma", 0.5635, 34.5606, 2, 0.05),
    ("Voi", -3.3961, 38.5561, 1, 0.05),
    ("Isiolo", 0.3546, 37.5822, 1, 0.05),
    ("Lodwar", 3.1191, 35.5973, 1, 0.05),
    ("Narok", -1.0876, 35.8600, 1, 0.05),
    ("Kilifi", -3.6305, 39.8499, 1, 0.05),
]
KENYA_BOX = (-4.6, 4.6, 34.0, 41.5)
ANYWHERE_SHARE = 0.03

TRADES = [
    ("plumbing", "Plumbing"),
    ("electrical", "Electrical"),
    ("carpentry", "Carpentry"),
    ("painting", "Painting"),
    ("masonry", "Masonry"),
    ("welding", "Welding"),
    ("appliance-repair", "Appliance repair"),
    ("roofing", "Roofing"),
    ("tiling", "Tiling"),
    ("cleaning", "Cleaning"),
    ("gardening", "Gardening"),
    ("hvac", "Air conditioning"),
]


def ensure_database() -> None:
    import psycopg
    from psycopg import sql

    url = os.environ["DATABASE_URL"]
    name = url.rsplit("/", 1)[1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def setup_django() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def place(rng: random.Random) -> tuple[float, float]:
    if rng.random() < ANYWHERE_SHARE:
        min_lat, max_lat, min_lng, max_lng = KENYA_BOX
        return rng.uniform(min_lat, max_lat), rng.uniform(min_lng, max_lng)
    _, lat, lng, _, jitter = rng.choices(TOWNS, weights=[t[3] for t in TOWNS])[0]
    return lat + rng.gauss(0, jitter), lng + rng.gauss(0, jitter)


def seed(total: int) -> None:
    from django.db import connection, transaction

    from accounts.models import (
        KycStatus,
        Role,
        ServiceCategory,
        TechnicianProfile,
        TechnicianSkill,
        User,
    )
    from accounts.services import user_handles_assign

    categories = []
    for slug, name in TRADES:
        category, _ = ServiceCategory.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "typical_price_min": 800, "typical_price_max": 20000},
        )
        categories.append(category)
    User.objects.get_or_create(
        email=f"customer@{EMAIL_DOMAIN}",
        defaults={
            "first_name": "Bench",
            "last_name": "Customer",
            "role": Role.CUSTOMER,
            "latitude": -1.2921,
            "longitude": 36.8219,
            "password": "!",
        },
    )
    existing = User.objects.filter(role=Role.TECHNICIAN, email__endswith=f"@{EMAIL_DOMAIN}").count()
    if existing >= total:
        print(f"reusing {existing} seeded technicians")
        return
    rng = random.Random(20261125 + existing)
    started = time.perf_counter()
    for offset in range(existing, total, BATCH):
        size = min(BATCH, total - offset)
        with transaction.atomic():
            users = []
            for i in range(offset, offset + size):
                lat, lng = place(rng)
                users.append(
                    User(
                        email=f"tech{i}@{EMAIL_DOMAIN}",
                        first_name=f"Tech{i}",
                        last_name="Bench",
                        role=Role.TECHNICIAN,
                        latitude=round(lat, 6),
                        longitude=round(lng, 6),
                        county="",
                        is_active=rng.random() < 0.97,
                        password="!",
                    )
                )
            user_handles_assign(users=users)
            User.objects.bulk_create(users, batch_size=BATCH)
            profiles = []
            for user in users:
                rating_count = int(rng.expovariate(1 / 25)) if rng.random() < 0.8 else 0
                completed = rating_count + int(rng.expovariate(1 / 10))
                profiles.append(
                    TechnicianProfile(
                        user=user,
                        hourly_rate=Decimal(rng.randrange(400, 3500, 50)),
                        service_radius_km=rng.choice((10, 15, 20, 30, 40, 50)),
                        is_available=rng.random() < 0.9,
                        kyc_status=KycStatus.APPROVED
                        if rng.random() < 0.85
                        else rng.choice((KycStatus.PENDING, KycStatus.NOT_SUBMITTED)),
                        rating_average=Decimal(str(round(rng.uniform(3.0, 5.0), 2)))
                        if rating_count
                        else Decimal(0),
                        rating_count=rating_count,
                        jobs_completed=completed,
                        jobs_cancelled_by_technician=int(rng.expovariate(1 / 1.5)),
                        average_response_minutes=rng.choice((None, *range(2, 240, 7))),
                    )
                )
            TechnicianProfile.objects.bulk_create(profiles, batch_size=BATCH)
            skills = []
            for profile in profiles:
                for category in rng.sample(categories, k=rng.choice((1, 2, 2, 3, 3, 4))):
                    skills.append(
                        TechnicianSkill(
                            profile=profile,
                            category=category,
                            years_of_experience=rng.randint(0, 20),
                        )
                    )
            TechnicianSkill.objects.bulk_create(skills, batch_size=BATCH)
        done = offset + size
        if done % 20000 == 0 or done == total:
            print(f"  seeded {done}/{total} technicians ({time.perf_counter() - started:.0f}s)")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # visibility map too, as autovacuum would eventually


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def random_search(rng: random.Random, categories):
    lat, lng = place(rng)
    category = rng.choice(categories)
    start = (time_now() + timedelta(days=1)).replace(
        hour=rng.randint(8, 16), minute=0, second=0, microsecond=0
    )
    return category, lat, lng, start


def time_now():
    from django.utils import timezone

    return timezone.now()


def report(label: str, samples_ms: list[float], results: list[int]) -> None:
    print(
        f"{label:<8} n={len(samples_ms):<4} p50={percentile(samples_ms, 50):6.1f} ms  "
        f"p95={percentile(samples_ms, 95):6.1f} ms  max={max(samples_ms):6.1f} ms  "
        f"mean results={statistics.mean(results):.1f}"
    )


def bench_service(runs: int, rng: random.Random) -> None:
    from accounts.models import ServiceCategory, User
    from matching.services import match_search

    customer = User.objects.get(email=f"customer@{EMAIL_DOMAIN}")
    categories = list(ServiceCategory.objects.filter(slug__in=[t[0] for t in TRADES]))
    samples, results = [], []
    for i in range(runs + 10):
        category, lat, lng, start = random_search(rng, categories)
        began = time.perf_counter()
        _, matches = match_search(
            customer=customer,
            category=category,
            latitude=lat,
            longitude=lng,
            scheduled_start=start,
            duration_minutes=120,
            budget=Decimal("3000"),
        )
        elapsed = (time.perf_counter() - began) * 1000
        if i >= 10:  # warm-up: connection, plan and import caches
            samples.append(elapsed)
            results.append(len(matches))
    report("service", samples, results)


def bench_http(runs: int, rng: random.Random) -> None:
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    from accounts.models import ServiceCategory, User

    customer = User.objects.get(email=f"customer@{EMAIL_DOMAIN}")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(customer).access_token}")
    categories = list(ServiceCategory.objects.filter(slug__in=[t[0] for t in TRADES]))
    samples, results = [], []
    for i in range(runs + 5):
        category, lat, lng, start = random_search(rng, categories)
        body = {
            "categoryId": category.pk,
            "latitude": lat,
            "longitude": lng,
            "scheduledStart": start.isoformat(),
            "durationMinutes": 120,
            "budget": "3000",
        }
        began = time.perf_counter()
        response = client.post("/api/v1/matching/find-technicians", body, format="json")
        elapsed = (time.perf_counter() - began) * 1000
        if response.status_code != 200:
            raise SystemExit(f"HTTP {response.status_code}: {response.content[:500]!r}")
        if i >= 5:
            samples.append(elapsed)
            results.append(len(response.json()["results"]))
    report("http", samples, results)


def explain_nairobi() -> None:
    from django.db import connection, transaction

    from accounts.models import ServiceCategory
    from matching import selectors
    from matching.scoring import bounding_box

    lat, lng = -1.2921, 36.8219
    min_lat, max_lat, min_lng, max_lng = bounding_box(lat, lng, 50)
    params = {
        "category_id": ServiceCategory.objects.get(slug="plumbing").pk,
        "lat": lat,
        "lng": lng,
        "min_lat": min_lat,
        "max_lat": max_lat,
        "min_lng": min_lng,
        "max_lng": max_lng,
        "max_km": 50.0,
        "customer_id": 0,
        "cap": 300,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + selectors.CANDIDATES_SQL, params)
        for (line,) in cursor.fetchall():
            print("  " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--technicians", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--http-runs", type=int, default=100)
    parser.add_argument(
        "--explain", action="store_true", help="print the candidate query plan for central Nairobi"
    )
    args = parser.parse_args()

    ensure_database()
    setup_django()
    seed(args.technicians)

    from accounts.models import Role, User
    from matching.models import Match

    Match.objects.filter(customer__email=f"customer@{EMAIL_DOMAIN}").delete()
    technicians = User.objects.filter(role=Role.TECHNICIAN).count()
    print(f"database {os.environ['DATABASE_URL'].rsplit('/', 1)[1]}: {technicians} technicians")
    if args.explain:
        explain_nairobi()
    rng = random.Random(7)
    print("load average before: {:.2f} {:.2f} {:.2f} (2 cores)".format(*os.getloadavg()))
    if args.runs:
        bench_service(args.runs, rng)
    if args.http_runs:
        bench_http(args.http_runs, rng)
    print("load average after:  {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
