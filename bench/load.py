"""HTTP load test on loopback: the API served as in production, driven by wrk.

    .venv/bin/python bench/load.py [--duration 15] [--warmup 2] [--connections 8] [--workers 3] [--server sync] [--only NAME]

What it does, bounded in time (each scenario runs `--duration` seconds):
1. prepares a dedicated database `dw_load` (created and migrated if missing) with demo categories, one
   customer with 60 bookings (each with a technician), and 2,000 KYC-approved technicians around Nairobi (reused on later runs);
2. starts gunicorn as in production (`--server sync`, the default: sync workers for the REST API, as
   docs/operations.md runs it; `--server gthread`: threaded workers; `--server asgi`: uvicorn workers;
   production settings, HTTPS redirect off, JSON logs at WARNING) on 127.0.0.1:8011, waits for /health;
3. runs VACUUM (ANALYZE) (autovacuum's job in production) and `--warmup` unmeasured seconds, then wrk against each scenario with a Lua script that
   adds the Bearer token and body and prints requests/s and p50/p95/p99 latency; then stops the server.
   `BENCH_CLOSE=1` sends `Connection: close` on every request, as a proxy without upstream keep-alive does.

Needs `wrk` (Debian package; `make bench` installs it). Prints one table; the README records the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORT = 8011
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dw_load")
SECRET = "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "dumuwaks.settings.production",
    "DATABASE_URL": DB_URL,
    "SECRET_KEY": SECRET,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "false",
    "LOG_LEVEL": "WARNING",
    "CACHE_KEY_PREFIX": "dwbench",
    "CHANNELS_PREFIX": "dwbench-asgi",
    "THROTTLE_USER_RATE": "1000000/min",
    "THROTTLE_ANON_RATE": "1000000/min",
    "MPESA_CALLBACK_TOKEN": "bench-callback-token",
    "MPESA_BACKEND": "simulator",
    # Production settings refuse the simulator and console providers; the bench is a staging run.
    "INSECURE_STAGING": "true",
    # Tasks the server queues (deposit prompts, notifications) go to a broker database of their own,
    # emptied after the run, so no development worker ever picks up a bench booking id.
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/14",
}

CLOSE = bool(os.environ.get("BENCH_CLOSE"))
TECHNICIANS = 2000
BOOKINGS = 60


def prepare_data() -> dict:
    """Runs in this process with the bench database; returns tokens and ids for the scenarios."""
    os.environ.update(SERVER_ENV)
    os.environ["DJANGO_SETTINGS_MODULE"] = "dumuwaks.settings.local"  # DEBUG off below
    os.environ["DEBUG"] = "false"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import random
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import RefreshToken

    call_command("ensure_database")
    call_command("migrate", verbosity=0)

    from accounts.demo import load_demo_accounts
    from accounts.models import (
        KycStatus,
        Role,
        ServiceCategory,
        TechnicianProfile,
        TechnicianSkill,
        User,
    )
    from accounts.services import user_handles_assign
    from bookings.models import Booking
    from bookings.services import booking_create

    load_demo_accounts()
    plumbing = ServiceCategory.objects.get(slug="plumbing")
    customer, _ = User.objects.get_or_create(
        email="bench-customer@dumuwaks.test",
        defaults={
            "first_name": "Bench",
            "last_name": "Customer",
            "phone_number": "+254711999000",
            "role": Role.CUSTOMER,
            "latitude": -1.2921,
            "longitude": 36.8219,
        },
    )
    poster, _ = User.objects.get_or_create(
        email="bench-poster@dumuwaks.test",
        defaults={
            "first_name": "Bench",
            "last_name": "Poster",
            "phone_number": "+254711999001",
            "role": Role.CUSTOMER,
        },
    )
    existing = User.objects.filter(email__startswith="bench-tech-").count()
    if existing < TECHNICIANS:
        rng = random.Random(42)
        users = [
            User(
                email=f"bench-tech-{n}@dumuwaks.test",
                first_name=f"Fundi{n}",
                last_name="Bench",
                phone_number=f"+2547{20000000 + n:08d}",
                role=Role.TECHNICIAN,
                latitude=-1.2921 + rng.uniform(-0.3, 0.3),
                longitude=36.8219 + rng.uniform(-0.3, 0.3),
                password="!",
            )
            for n in range(existing, TECHNICIANS)
        ]
        user_handles_assign(users=users)
        User.objects.bulk_create(users, batch_size=1000)
        created = User.objects.filter(
            email__startswith="bench-tech-", technician_profile__isnull=True
        )
        profiles = TechnicianProfile.objects.bulk_create(
            [
                TechnicianProfile(
                    user=user,
                    hourly_rate=rng.choice([800, 1200, 1500, 2000, 2500]),
                    kyc_status=KycStatus.APPROVED,
                    service_radius_km=40,
                    rating_average=round(rng.uniform(3.5, 5.0), 2),
                    rating_count=rng.randint(0, 200),
                    jobs_completed=rng.randint(0, 300),
                )
                for user in created
            ],
            batch_size=1000,
        )
        TechnicianSkill.objects.bulk_create(
            [
                TechnicianSkill(
                    profile=p, category=plumbing, years_of_experience=rng.randint(0, 20)
                )
                for p in profiles
            ],
            batch_size=1000,
        )

    # The read scenarios always see the same 60 bookings, each with its own technician (as real lists
    # have), whatever earlier POST runs created; older runs' unassigned bench bookings are replaced.
    Booking.objects.filter(customer__in=[poster, customer], title="Bench job").delete()
    Booking.objects.filter(customer=customer, technician__isnull=True).delete()
    have = Booking.objects.filter(customer=customer).count()
    start = timezone.now() + timedelta(days=3)
    for index in range(have, BOOKINGS):
        booking_create(
            customer=customer,
            category=plumbing,
            title=f"Leaking sink #{index}",
            address="Ngong Road, Nairobi",
            county="Nairobi",
            latitude=-1.30,
            longitude=36.78,
            scheduled_start=start + timedelta(hours=3 * index),
            duration_minutes=120,
            price=2500,
            technician=User.objects.get(email=f"bench-tech-{index}@dumuwaks.test"),
        )

    slot = (timezone.now() + timedelta(days=30)).replace(hour=10, minute=0, second=0, microsecond=0)
    return {
        "token": str(RefreshToken.for_user(customer).access_token),
        "poster_token": str(RefreshToken.for_user(poster).access_token),
        "category_id": plumbing.id,
        "booking_id": Booking.objects.filter(customer=customer).order_by("id").first().id,
        "slot": slot.isoformat(),
    }


def analyze() -> None:
    """Vacuumed tables and fresh planner statistics before each scenario, as autovacuum keeps them in
    production: the seeded rows and the thousands a POST scenario adds are otherwise invisible to the
    planner (the candidate search then joins profiles by the wrong index: 48 ms instead of 2 ms), and
    autovacuum, woken by the rows the previous run deleted, would otherwise share the CPU with the next
    scenario."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")


def scenarios(data: dict) -> dict[str, dict]:
    auth = {"Authorization": f"Bearer {data['token']}", "Content-Type": "application/json"}
    poster_auth = {**auth, "Authorization": f"Bearer {data['poster_token']}"}
    booking_body = {
        "categoryId": data["category_id"],
        "title": "Bench job",
        "address": "Moi Avenue, Nairobi",
        "county": "Nairobi",
        "scheduledStart": data["slot"],
        "durationMinutes": 60,
        "price": "3000",
    }
    find_body = {
        "categoryId": data["category_id"],
        "latitude": -1.2921,
        "longitude": 36.8219,
        "scheduledStart": data["slot"],
        "durationMinutes": 120,
        "budget": "3000",
        "limit": 10,
    }
    return {
        "GET /bookings": {"method": "GET", "path": "/api/v1/bookings", "headers": auth},
        "GET /bookings/:id": {
            "method": "GET",
            "path": f"/api/v1/bookings/{data['booking_id']}",
            "headers": auth,
        },
        "GET /auth/me": {"method": "GET", "path": "/api/v1/auth/me", "headers": auth},
        "POST /bookings": {
            "method": "POST",
            "path": "/api/v1/bookings",
            "headers": poster_auth,
            "body": json.dumps(booking_body),
        },
        "POST /matching/find-technicians": {
            "method": "POST",
            "path": "/api/v1/matching/find-technicians",
            "headers": auth,
            "body": json.dumps(find_body),
        },
        "POST /payments/mpesa/callback": {
            "method": "POST",
            "path": f"/api/v1/payments/mpesa/callback?token={SERVER_ENV['MPESA_CALLBACK_TOKEN']}",
            "headers": {"Content-Type": "application/json"},
            "unique_callback": True,
        },
        "GET /health": {"method": "GET", "path": "/health", "headers": {}},
    }


LUA_TEMPLATE = r"""
wrk.method = %(method)s
wrk.body = %(body)s
%(headers)s
local counter = 0
local unique_callback = %(unique)s
request = function()
  if unique_callback then
    counter = counter + 1
    local id = string.format("ws_CO_bench_%%d_%%d_%%d", os.time(), math.random(1, 1e9), counter)
    local body = '{"Body":{"stkCallback":{"MerchantRequestID":"bench-' .. counter .. '","CheckoutRequestID":"' .. id .. '","ResultCode":1032,"ResultDesc":"Request cancelled by user"}}}'
    return wrk.format(nil, nil, nil, body)
  end
  return wrk.format()
end
done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format('RESULT {"requests": %%d, "rps": %%.1f, "p50": %%.2f, "p95": %%.2f, "p99": %%.2f, "errors": %%d}\n',
    summary.requests, summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, errors))
end
"""


def lua_for(scenario: dict) -> str:
    sent = {**scenario["headers"], **({"Connection": "close"} if CLOSE else {})}
    headers = "\n".join(f'wrk.headers["{k}"] = {json.dumps(v)}' for k, v in sent.items())
    return LUA_TEMPLATE % {
        "method": json.dumps(scenario["method"]),
        "body": json.dumps(scenario.get("body")) if scenario.get("body") else "nil",
        "headers": headers,
        "unique": "true" if scenario.get("unique_callback") else "false",
    }


SERVER_COMMANDS = {
    # HTTP and WebSockets in one ASGI process type (what `make run` serves).
    "asgi": ["dumuwaks.asgi:application", "-k", "uvicorn_worker.UvicornWorker"],
    # The REST API in production (docs/operations.md): one request per process, no GIL contention; the
    # WebSockets are served by separate ASGI processes.
    "sync": ["dumuwaks.wsgi:application", "-k", "sync"],
    # Threaded WSGI workers, for comparison (README: p95 two to four times the sync figure).
    "gthread": ["dumuwaks.wsgi:application", "-k", "gthread"],
}


def server_command(kind: str, threads: int) -> list[str]:
    return [*SERVER_COMMANDS[kind], *(["--threads", str(threads)] if kind == "gthread" else [])]


def start_server(workers: int, kind: str, threads: int) -> subprocess.Popen:
    env = {**os.environ, **SERVER_ENV}
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            *server_command(kind, threads),
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    os.killpg(server.pid, signal.SIGTERM)
    raise SystemExit("server did not become healthy within 60 s")


def run_wrk(scenario: dict, *, duration: int, connections: int, threads: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua_for(scenario))
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            script.name,
            f"http://127.0.0.1:{PORT}{scenario['path']}",
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
    )
    os.unlink(script.name)
    for line in output.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line.removeprefix("RESULT "))
    raise RuntimeError(output.stdout + output.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=15, help="seconds per scenario")
    parser.add_argument(
        "--warmup", type=int, default=2, help="unmeasured seconds before each scenario (0: none)"
    )
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--server", choices=sorted(SERVER_COMMANDS), default="sync")
    parser.add_argument("--server-threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument(
        "--only", action="append", help="run only scenarios whose name contains this"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: `make bench` installs it (apt-get install wrk)")

    data = prepare_data()
    server = start_server(args.workers, args.server, args.server_threads)
    rows = []
    try:
        for name, scenario in scenarios(data).items():
            if args.only and not any(part in name for part in args.only):
                continue
            analyze()
            if (
                args.warmup
            ):  # workers' first requests (lazy imports, pool connections) are not measured
                run_wrk(
                    scenario,
                    duration=args.warmup,
                    connections=args.connections,
                    threads=args.threads,
                )
            result = run_wrk(
                scenario, duration=args.duration, connections=args.connections, threads=args.threads
            )
            rows.append((name, result))
            print(
                f"{name:34} {result['rps']:8.1f} req/s  p50 {result['p50']:7.2f} ms  "
                f"p95 {result['p95']:7.2f} ms  p99 {result['p99']:7.2f} ms  "
                f"non-2xx/errors {result['errors']}",
                flush=True,
            )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        import redis

        redis.Redis.from_url(SERVER_ENV["CELERY_BROKER_URL"]).flushdb()
    print(
        f"\nwrk -t{args.threads} -c{args.connections} -d{args.duration}s against gunicorn "
        f"{' '.join(server_command(args.server, args.server_threads))} -w {args.workers} on 127.0.0.1 "
        f"({os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
