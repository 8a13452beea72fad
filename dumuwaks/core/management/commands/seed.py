"""`manage.py seed`: realistic Kenyan demo data (idempotent, deterministic for a given --random-seed).

Seeded people have `@seed.dumuwaks.test` emails; the demo accounts of accounts/demo.py are created first and
join in (the demo customer and technician get bookings of their own). Re-running tops the data up to the
requested sizes instead of duplicating it.

Bookings are written as consistent rows in every status (amounts from bookings.pricing, timestamps and a
status-history trail matching the status, a dispute for disputed/resolved ones). The trail's audit rows are
written by `status_history_append` (the one writer of audit rows) and backdated: a fabricated past is never
announced (no event, notification or task for it). Money goes through the payments ledger API
(`ledger_post`) with the same references the payment services use, so escrow, technician payables, platform
revenue and paid payouts balance. Support tickets are opened through the support services (numbering, SLA,
auto-assignment).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Avg, Count
from django.utils import timezone

from accounts.demo import DEMO_PASSWORD, load_demo_accounts
from accounts.models import (
    KycStatus,
    Role,
    ServiceCategory,
    TechnicianProfile,
    TechnicianSkill,
    User,
)
from accounts.services import user_handles_assign
from bookings.models import (
    ACTIVE_STATUSES,
    BOOKING_MACHINE,
    Booking,
    BookingStatusHistory,
    Dispute,
    DisputeOutcome,
    DisputeStatus,
)
from bookings.numbering import next_booking_number
from bookings.pricing import price_breakdown
from dumuwaks.core.state_machine import status_history_append
from payments.models import (
    EntrySide,
    LedgerTransactionKind,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Payout,
    PayoutKind,
    PayoutStatus,
)
from payments.services.ledger import (
    CUSTOMER_CLEARING,
    MPESA_B2C_DISBURSED,
    PLATFORM_REVENUE,
    Line,
    escrow_code,
    ledger_post,
    technician_payable_code,
    transfer,
)
from social.models import Review, ReviewDirection
from support.models import AgentAvailability, SupportTicket
from support.services import ticket_create, ticket_message_create

SEED_DOMAIN = "seed.dumuwaks.test"
DEMO_SIZES = {"customers": 12, "technicians": 16, "bookings": 40, "tickets": 6}

# The 47 counties with the approximate coordinates of their headquarters.
COUNTIES: list[tuple[str, float, float]] = [
    ("Mombasa", -4.0435, 39.6682),
    ("Kwale", -4.1816, 39.4606),
    ("Kilifi", -3.6305, 39.8499),
    ("Tana River", -1.4833, 40.0333),
    ("Lamu", -2.2717, 40.9020),
    ("Taita-Taveta", -3.3961, 38.5561),
    ("Garissa", -0.4532, 39.6461),
    ("Wajir", 1.7471, 40.0573),
    ("Mandera", 3.9366, 41.8670),
    ("Marsabit", 2.3284, 37.9899),
    ("Isiolo", 0.3546, 37.5822),
    ("Meru", 0.0463, 37.6559),
    ("Tharaka-Nithi", -0.3333, 37.6500),
    ("Embu", -0.5388, 37.4596),
    ("Kitui", -1.3667, 38.0106),
    ("Machakos", -1.5177, 37.2634),
    ("Makueni", -1.8039, 37.6203),
    ("Nyandarua", -0.1803, 36.5228),
    ("Nyeri", -0.4201, 36.9476),
    ("Kirinyaga", -0.4989, 37.2803),
    ("Murang'a", -0.7210, 37.1526),
    ("Kiambu", -1.1714, 36.8356),
    ("Turkana", 3.1191, 35.5973),
    ("West Pokot", 1.2389, 35.1119),
    ("Samburu", 1.0988, 36.6979),
    ("Trans Nzoia", 1.0157, 35.0062),
    ("Uasin Gishu", 0.5143, 35.2698),
    ("Elgeyo-Marakwet", 0.6704, 35.5081),
    ("Nandi", 0.2034, 35.1062),
    ("Baringo", 0.4919, 35.7430),
    ("Laikipia", 0.0360, 36.3640),
    ("Nakuru", -0.3031, 36.0800),
    ("Narok", -1.0876, 35.8711),
    ("Kajiado", -1.8524, 36.7768),
    ("Kericho", -0.3689, 35.2863),
    ("Bomet", -0.7813, 35.3416),
    ("Kakamega", 0.2827, 34.7519),
    ("Vihiga", 0.0833, 34.7167),
    ("Bungoma", 0.5635, 34.5606),
    ("Busia", 0.4608, 34.1115),
    ("Siaya", 0.0607, 34.2881),
    ("Kisumu", -0.0917, 34.7680),
    ("Homa Bay", -0.5273, 34.4571),
    ("Migori", -1.0634, 34.4731),
    ("Kisii", -0.6817, 34.7667),
    ("Nyamira", -0.5633, 34.9358),
    ("Nairobi", -1.2921, 36.8219),
]
# Where most of the marketplace lives: weights for picking a county.
BUSY_COUNTIES = {"Nairobi": 30, "Mombasa": 8, "Kiambu": 8, "Nakuru": 6, "Kisumu": 6, "Machakos": 4}

FIRST_NAMES = [
    "Wanjiku", "Achieng", "Kiprop", "Otieno", "Njeri", "Mwangi", "Wambui", "Kamau", "Chebet",
    "Akinyi", "Omondi", "Kipchoge", "Muthoni", "Nafula", "Wafula", "Halima", "Abdi", "Fatuma",
    "Baraka", "Amani", "Zawadi", "Imani", "Juma", "Mutua", "Mueni", "Nduta", "Wekesa", "Barasa",
    "Cherono", "Jepkosgei", "Korir", "Owino", "Atieno", "Makena", "Kendi", "Gitau", "Karanja",
    "Waweru", "Njoroge", "Kariuki", "Nyambura", "Moraa", "Kemunto", "Ochieng", "Adhiambo",
]  # fmt: skip
LAST_NAMES = [
    "Kamau", "Otieno", "Mwangi", "Ochieng", "Wanjala", "Kiptoo", "Mutua", "Njoroge", "Odhiambo",
    "Cheruiyot", "Wafula", "Kariuki", "Onyango", "Kibet", "Muriuki", "Nyaga", "Mohamed", "Hassan",
    "Rotich", "Langat", "Were", "Simiyu", "Maina", "Ndungu", "Omollo", "Kilonzo", "Musyoka",
    "Nyamweya", "Ongeri", "Karanja", "Gichuki", "Mbugua", "Koech", "Chege", "Obiero",
]  # fmt: skip
ESTATES = [
    "Kilimani", "Westlands", "Kileleshwa", "South B", "Embakasi", "Kasarani", "Rongai",
    "Ruaka", "Syokimau", "Nyali", "Bamburi", "Milimani", "Section 58", "Pipeline", "Umoja",
]  # fmt: skip
JOBS = {
    "plumbing": ["Fix leaking kitchen sink", "Unblock bathroom drain", "Install water tank pump"],
    "electrical": [
        "Rewire sitting room sockets",
        "Install security lights",
        "Fix tripping breaker",
    ],
    "carpentry": ["Repair wardrobe doors", "Build kitchen shelves", "Fix squeaky bed frame"],
    "appliance-repair": ["Fridge not cooling", "Washing machine not spinning", "Fix microwave"],
    "painting": ["Paint two-bedroom flat", "Repaint gate and grills", "Touch up living room"],
    "masonry": ["Repair cracked wall", "Lay paving blocks", "Plaster perimeter wall"],
    "cleaning": ["Deep clean after move-out", "Sofa and carpet cleaning", "Office cleaning"],
    "hvac": ["Service split AC unit", "Install extractor fan", "AC leaking water"],
    "roofing": ["Fix leaking mabati roof", "Replace gutters", "Roof inspection before rains"],
    "welding": ["Weld broken gate hinge", "Make window grills", "Repair water tank stand"],
    "locksmith": ["Locked out of house", "Change door locks", "Install padlock hasp"],
    "pest-control": ["Bedbug fumigation", "Cockroach treatment", "Rodent control"],
}
TICKETS = [
    (
        "payment",
        "high",
        "M-Pesa deposit not reflecting",
        "I paid the booking fee but it says pending.",
    ),
    (
        "booking",
        "urgent",
        "Technician did not show up",
        "The fundi never arrived for my 10am slot.",
    ),
    (
        "account",
        "medium",
        "Cannot change my phone number",
        "The OTP never arrives on the new line.",
    ),
    (
        "billing",
        "medium",
        "Charged cancellation fee wrongly",
        "I cancelled a day before the visit.",
    ),
    ("technical", "low", "App crashes when uploading photos", "Happens on my Tecno phone."),
    ("complaint", "high", "Rude technician", "The technician was rude and left a mess."),
    ("feature_request", "low", "Pay balance with Airtel Money", "Please add Airtel Money."),
    ("general", "low", "How do refunds work?", "How long does a refund take to reach M-Pesa?"),
]
# Relative frequency of each booking status in generated data; every status appears at least once.
STATUS_WEIGHTS = {
    "pending": 10,
    "accepted": 10,
    "en_route": 4,
    "arrived": 2,
    "in_progress": 5,
    "completed": 8,
    "confirmed": 40,
    "cancelled": 10,
    "expired": 5,
    "disputed": 4,
    "resolved": 4,
}
# The path each status took, for the history trail.
STATUS_PATHS = {
    "pending": ["pending"],
    "accepted": ["pending", "accepted"],
    "en_route": ["pending", "accepted", "en_route"],
    "arrived": ["pending", "accepted", "en_route", "arrived"],
    "in_progress": ["pending", "accepted", "en_route", "arrived", "in_progress"],
    "completed": ["pending", "accepted", "en_route", "in_progress", "completed"],
    "confirmed": ["pending", "accepted", "en_route", "in_progress", "completed", "confirmed"],
    "cancelled": ["pending", "accepted", "cancelled"],
    "expired": ["pending", "expired"],
    "disputed": ["pending", "accepted", "en_route", "in_progress", "completed", "disputed"],
    "resolved": [
        "pending", "accepted", "en_route", "in_progress", "completed", "disputed", "resolved",
    ],
}  # fmt: skip
DEPOSIT_PAID_STATUSES = {
    "accepted", "en_route", "arrived", "in_progress", "completed", "confirmed", "disputed", "resolved",
}  # fmt: skip
LIVE_STATUSES = {"en_route", "arrived", "in_progress"}
FUTURE_STATUSES = {"pending", "accepted"}


class Progress:
    """A plain-stdout progress bar (redrawn in place on a terminal, one line per step otherwise)."""

    def __init__(self, stdout, label: str, total: int, width: int = 30):
        self.stdout, self.label, self.total, self.width = stdout, label, total, width
        self.done = 0
        self.tty = hasattr(stdout, "isatty") and stdout.isatty()

    def advance(self, n: int = 1) -> None:
        self.done = min(self.total, self.done + n)
        if self.tty:
            self._draw(ending="\r")

    def finish(self) -> None:
        self.done = self.total
        self._draw(ending="\n")

    def _draw(self, ending: str) -> None:
        filled = int(self.width * self.done / self.total) if self.total else self.width
        bar = "#" * filled + "-" * (self.width - filled)
        self.stdout.write(f"{self.label:<14} [{bar}] {self.done}/{self.total}", ending=ending)
        if self.tty:
            self.stdout.flush()


@dataclass
class SeedSizes:
    customers: int
    technicians: int
    bookings: int
    tickets: int


class Command(BaseCommand):
    help = (
        "Seed realistic Kenyan demo data: counties, customers and technicians with +2547 numbers, "
        "skills and locations, bookings in every status with payments, reviews and support tickets. "
        "Idempotent: re-running tops up to the requested sizes."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--demo", action="store_true", help="the small set `make run` loads (fast)"
        )
        parser.add_argument("--customers", type=int, default=200)
        parser.add_argument("--technicians", type=int, default=80)
        parser.add_argument("--bookings", type=int, default=1000)
        parser.add_argument("--tickets", type=int, default=40)
        parser.add_argument("--random-seed", type=int, default=2026)

    def handle(self, *args, **options):
        if options["demo"]:
            sizes = SeedSizes(**DEMO_SIZES)
        else:
            sizes = SeedSizes(
                customers=options["customers"],
                technicians=options["technicians"],
                bookings=options["bookings"],
                tickets=options["tickets"],
            )
        if min(sizes.customers, sizes.technicians, sizes.bookings, sizes.tickets) < 0:
            raise CommandError("Sizes must not be negative.")
        self.rng = random.Random(options["random_seed"])  # noqa: S311  (demo data, not secrets)
        self.now = timezone.now()
        self.password_hash = None

        load_demo_accounts(stdout=self.stdout)
        self.stdout.write("")
        self._ensure_agent_availability()
        customers = self._seed_customers(sizes.customers)
        technicians = self._seed_technicians(sizes.technicians)
        created = self._seed_bookings(sizes.bookings, customers, technicians)
        self._refresh_technician_aggregates(technicians)
        tickets = self._seed_tickets(sizes.tickets, customers)
        self.stdout.write(
            self.style.SUCCESS(
                f"seed done: {len(customers)} customers, {len(technicians)} technicians, "
                f"{created} new bookings, {tickets} new tickets"
            )
        )

    # --- people --------------------------------------------------------------------------------------------------

    def _hash(self) -> str:
        if self.password_hash is None:
            # One hash for every seeded account: Argon2 per user would make seeding slow.
            self.password_hash = make_password(DEMO_PASSWORD)
        return self.password_hash

    def _pick_county(self) -> tuple[str, float, float]:
        weights = [BUSY_COUNTIES.get(name, 1) for name, _, _ in COUNTIES]
        name, lat, lng = self.rng.choices(COUNTIES, weights=weights)[0]
        # Spread people around the county headquarters (~5 km).
        return (
            name,
            round(lat + self.rng.uniform(-0.05, 0.05), 6),
            round(lng + self.rng.uniform(-0.05, 0.05), 6),
        )

    def _phone(self, used: set[str]) -> str:
        while True:
            prefix = self.rng.choice(["70", "71", "72", "74", "79"])
            number = f"+254{prefix}{self.rng.randint(0, 9_999_999):07d}"
            if number not in used:
                used.add(number)
                return number

    def _seed_users(self, role: str, prefix: str, count: int):
        emails = [f"{prefix}{i:04d}@{SEED_DOMAIN}" for i in range(1, count + 1)]
        existing = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
        used_phones = set(
            User.objects.exclude(phone_number=None).values_list("phone_number", flat=True)
        )
        rows = []
        progress = Progress(self.stdout, f"{prefix}s", count)
        for email in emails:
            # Draw for every row, created or not, so the same seed gives the same people.
            first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
            county, lat, lng = self._pick_county()
            phone = self._phone(used_phones)
            estate = self.rng.choice(ESTATES)
            if email not in existing:
                rows.append(
                    User(
                        email=email,
                        role=role,
                        first_name=first,
                        last_name=last,
                        phone_number=phone,
                        county=county,
                        latitude=lat,
                        longitude=lng,
                        address=f"{estate}, {county}",
                        is_email_verified=True,
                        is_phone_verified=True,
                        password=self._hash(),
                    )
                )
            progress.advance()
        user_handles_assign(users=rows)  # bulk_create skips User.save, which gives them otherwise
        User.objects.bulk_create(rows, batch_size=500)
        progress.finish()
        return list(User.objects.filter(email__in=emails).order_by("email"))

    def _seed_customers(self, count: int):
        customers = self._seed_users(Role.CUSTOMER, "customer", count)
        demo = list(
            User.objects.filter(
                email__in=["customer@dumuwaks.test", "corporate@dumuwaks.test"]
            ).order_by("email")
        )
        return demo + customers

    def _seed_technicians(self, count: int):
        users = self._seed_users("technician", "technician", count)
        demo = User.objects.filter(email="technician@dumuwaks.test").first()
        if demo is not None:
            users = [demo, *users]
        categories = list(ServiceCategory.objects.filter(is_active=True).order_by("slug"))
        have_profile = set(
            TechnicianProfile.objects.filter(user__in=users).values_list("user_id", flat=True)
        )
        profiles, skills = [], []
        for index, user in enumerate(users):
            rate = Decimal(self.rng.choice([800, 1000, 1200, 1500, 2000, 2500, 3000]))
            picked = self.rng.sample(categories, k=min(len(categories), self.rng.randint(1, 3)))
            # Every tenth seeded technician waits for KYC review, so the admin queue is not empty.
            kyc = KycStatus.PENDING if index % 10 == 9 else KycStatus.APPROVED
            if user.pk in have_profile:
                continue
            profile = TechnicianProfile(
                user=user,
                bio=f"{user.first_name} has {self.rng.randint(2, 15)} years of experience in "
                f"{', '.join(c.name.lower() for c in picked)}.",
                hourly_rate=rate,
                service_radius_km=self.rng.choice([10, 15, 20, 30, 50]),
                kyc_status=kyc,
                national_id_number=f"{self.rng.randint(20_000_000, 39_999_999)}",
                kyc_submitted_at=self.now - timedelta(days=self.rng.randint(1, 90)),
                kyc_reviewed_at=None if kyc == KycStatus.PENDING else self.now,
            )
            profiles.append(profile)
            skills.extend(
                TechnicianSkill(
                    profile=profile, category=c, years_of_experience=self.rng.randint(1, 15)
                )
                for c in picked
            )
        TechnicianProfile.objects.bulk_create(profiles)
        TechnicianSkill.objects.bulk_create(skills, ignore_conflicts=True)
        return list(
            User.objects.filter(pk__in=[u.pk for u in users]).select_related("technician_profile")
        )

    def _ensure_agent_availability(self) -> None:
        for agent in User.objects.filter(role=Role.SUPPORT, email__endswith="dumuwaks.test"):
            AgentAvailability.objects.get_or_create(agent=agent)

    # --- bookings ------------------------------------------------------------------------------------------------

    def _statuses(self, count: int) -> list[str]:
        statuses = list(STATUS_WEIGHTS)[: min(count, len(STATUS_WEIGHTS))]
        statuses += self.rng.choices(
            list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()), k=count - len(statuses)
        )
        return statuses

    def _seed_bookings(self, target: int, customers, technicians) -> int:
        existing = Booking.objects.filter(customer__in=customers).count()
        missing = max(0, target - existing)
        progress = Progress(self.stdout, "bookings", missing)
        if not missing:
            progress.finish()
            return 0

        approved = [
            t
            for t in technicians
            if getattr(t, "technician_profile", None)
            and t.technician_profile.kyc_status == KycStatus.APPROVED
        ]
        if not approved or not customers:
            progress.finish()
            return 0
        skills = self._skills_by_technician(approved)
        slots = self._slot_counters(approved)
        for status in self._statuses(missing):
            with transaction.atomic():
                self._create_booking(status, customers, approved, skills, slots)
            progress.advance()
        progress.finish()
        return missing

    def _skills_by_technician(self, technicians) -> dict:
        result: dict[int, list] = {}
        for link in TechnicianSkill.objects.filter(profile__user__in=technicians).select_related(
            "category", "profile"
        ):
            result.setdefault(link.profile.user_id, []).append(link.category)
        return result

    def _slot_counters(self, technicians) -> dict:
        counts = dict(
            Booking.objects.filter(technician__in=technicians, status__in=ACTIVE_STATUSES)
            .values_list("technician_id")
            .annotate(n=Count("id"))
        )
        return {
            t.pk: {"future": counts.get(t.pk, 0), "live": counts.get(t.pk, 0)} for t in technicians
        }

    def _schedule(self, status: str, technician, slots) -> datetime:
        hour = self.now.replace(minute=0, second=0, microsecond=0)
        if status in LIVE_STATUSES and slots[technician.pk]["live"] < 2:
            # At most two jobs around "now" per technician, 3 h apart, never reaching the future slots.
            n = slots[technician.pk]["live"]
            slots[technician.pk]["live"] += 1
            return hour - timedelta(hours=1) + timedelta(hours=3 * n)
        if status in FUTURE_STATUSES or status in LIVE_STATUSES:
            n = slots[technician.pk]["future"]
            slots[technician.pk]["future"] += 1
            return hour + timedelta(days=2, hours=3 * n)
        return hour - timedelta(days=self.rng.randint(2, 75), hours=self.rng.randint(0, 10))

    def _create_booking(self, status: str, customers, technicians, skills, slots) -> None:
        customer = self.rng.choice(customers)
        technician = self.rng.choice(technicians)
        category = self.rng.choice(skills.get(technician.pk) or [None]) or self._any_category()
        low, high = int(category.typical_price_min), int(category.typical_price_max)
        price = Decimal(self.rng.randrange(max(low, 500), max(high, low + 100), 50))
        breakdown = price_breakdown(price)
        start = self._schedule(status, technician, slots)
        if status in LIVE_STATUSES and start > self.now + timedelta(hours=6):
            status = "accepted"  # this technician is already busy right now
        end = start + timedelta(hours=self.rng.choice([1, 2]))
        created = min(start, self.now) - timedelta(days=self.rng.randint(1, 5))
        if status in FUTURE_STATUSES:
            created = self.now - timedelta(hours=self.rng.randint(1, 40))
        county = customer.county or "Nairobi"
        times = self._timestamps(status, created, start, end)
        booking = Booking.objects.create(
            number=next_booking_number(),
            customer=customer,
            technician=None if status == "pending" and self.rng.random() < 0.3 else technician,
            category=category,
            title=self.rng.choice(JOBS.get(category.slug, [f"{category.name} job"])),
            description="Seeded demo job.",
            urgency=self.rng.choice(["normal"] * 6 + ["urgent", "emergency"]),
            address=customer.address or f"{self.rng.choice(ESTATES)}, {county}",
            county=county,
            latitude=customer.latitude,
            longitude=customer.longitude,
            scheduled_start=start,
            scheduled_end=end,
            price=breakdown.price,
            deposit_amount=breakdown.deposit,
            balance_amount=breakdown.balance,
            platform_fee=breakdown.platform_fee,
            technician_share=breakdown.technician_share,
            status=status,
            payment_due_at=created + timedelta(minutes=30),
            completion_notes="Job done, customer walked through it."
            if times.get("completed_at")
            else "",
            cancelled_by=customer if status == "cancelled" else None,
            cancellation_reason="Plans changed." if status == "cancelled" else "",
            **times,
        )
        Booking.objects.filter(pk=booking.pk).update(created_at=created)
        self._history(booking, customer, STATUS_PATHS[status], created)
        if status in {"disputed", "resolved"}:
            self._dispute(booking, status)
        if status in DEPOSIT_PAID_STATUSES:
            self._money(booking)
        if status == "confirmed":
            self._review(booking)

    def _history(self, booking, customer, path: list[str], created: datetime) -> None:
        """The audit trail of a booking created straight in its final status, as if it had walked `path`.

        Each row goes through `status_history_append`, the one writer of audit rows, and not through
        `transition()`: the booking already has its status, and this past never happened, so nothing may be
        announced (no event, no notification). `created_at` is the insert time; it is then backdated so
        the trail runs from the booking's creation towards now.
        """
        step = (self.now - created) / (len(path) + 1) if len(path) > 1 else timedelta(0)
        for i, to in enumerate(path):
            row = status_history_append(
                machine=BOOKING_MACHINE,
                instance=booking,
                from_status=path[i - 1] if i else "",
                to_status=to,
                actor=customer if to in {"pending", "confirmed", "cancelled", "disputed"} else None,
                note="seed",
            )
            BookingStatusHistory.objects.filter(pk=row.pk).update(created_at=created + step * i)

    def _any_category(self):
        return ServiceCategory.objects.order_by("slug").first()

    def _timestamps(self, status, created, start, end) -> dict:
        path = set(STATUS_PATHS[status])
        times: dict = {}
        if status in DEPOSIT_PAID_STATUSES:
            times["deposit_paid_at"] = created + timedelta(minutes=self.rng.randint(2, 25))
        if "accepted" in path:
            times["accepted_at"] = created + timedelta(minutes=self.rng.randint(5, 240))
        if "in_progress" in path:
            times["started_at"] = min(start, self.now)
        if "completed" in path:
            times["completed_at"] = min(end, self.now)
        if "confirmed" in path:
            times["confirmed_at"] = min(end + timedelta(hours=self.rng.randint(1, 48)), self.now)
        if status == "cancelled":
            times["cancelled_at"] = created + timedelta(hours=self.rng.randint(1, 20))
        return times

    def _dispute(self, booking, status: str) -> None:
        resolved = status == "resolved"
        Dispute.objects.create(
            booking=booking,
            opened_by=booking.customer,
            reason="The work was not finished as agreed.",
            status=DisputeStatus.RESOLVED if resolved else DisputeStatus.OPEN,
            outcome=DisputeOutcome.RELEASE_TO_TECHNICIAN if resolved else "",
            resolved_at=self.now if resolved else None,
            resolution_notes="Photos show the job was completed." if resolved else "",
        )

    def _money(self, booking) -> None:
        """Deposit (and for confirmed jobs the balance, the release and the paid payout) through the ledger."""
        parts = [(PaymentPurpose.DEPOSIT, booking.deposit_amount, booking.deposit_paid_at)]
        if booking.status == "confirmed":
            parts.append((PaymentPurpose.BALANCE, booking.balance_amount, booking.completed_at))
        for purpose, amount, paid_at in parts:
            payment = Payment.objects.create(
                booking=booking,
                payer=booking.customer,
                purpose=purpose,
                amount=amount,
                phone=booking.customer.phone_number or "",
                status=PaymentStatus.SUCCEEDED,
                mpesa_receipt=f"S{booking.pk:07d}{purpose[0].upper()}{self.rng.randint(100, 999)}",
                paid_amount=amount,
                completed_at=paid_at,
                provider_paid_at=paid_at,
            )
            ledger_post(
                kind=LedgerTransactionKind.PAYMENT_RECEIVED,
                reference=f"payment:{payment.pk}:received",
                lines=transfer(amount, source=CUSTOMER_CLEARING, to=escrow_code(booking.pk)),
                booking_id=booking.pk,
                payment_id=payment.pk,
                memo=f"{purpose} by mpesa for {booking.number} (seed)",
            )
        if booking.status != "confirmed" or booking.technician_id is None:
            return
        ledger_post(
            kind=LedgerTransactionKind.RELEASE,
            reference=f"booking:{booking.pk}:release",
            lines=[
                Line(escrow_code(booking.pk), EntrySide.CREDIT, booking.price),
                Line(
                    technician_payable_code(booking.technician_id),
                    EntrySide.DEBIT,
                    booking.technician_share,
                ),
                Line(PLATFORM_REVENUE, EntrySide.DEBIT, booking.platform_fee),
            ],
            booking_id=booking.pk,
            memo=f"job {booking.number} completed (seed)",
        )
        payout = Payout.objects.create(
            kind=PayoutKind.TECHNICIAN_PAYOUT,
            booking=booking,
            recipient=booking.technician,
            phone=booking.technician.phone_number or "",
            amount=booking.technician_share,
            status=PayoutStatus.PAID,
            attempt=1,
            receipt=f"P{booking.pk:07d}{self.rng.randint(100, 999)}",
            sent_at=booking.confirmed_at,
            paid_at=booking.confirmed_at,
        )
        ledger_post(
            kind=LedgerTransactionKind.PAYOUT_SENT,
            reference=f"payout:{payout.pk}:paid",
            lines=transfer(
                payout.amount,
                source=technician_payable_code(booking.technician_id),
                to=MPESA_B2C_DISBURSED,
            ),
            booking_id=booking.pk,
            payout_id=payout.pk,
            memo="technician_payout (seed)",
        )

    def _review(self, booking) -> None:
        overall = self.rng.choices([5, 4, 3, 2], weights=[55, 30, 10, 5])[0]
        Review.objects.get_or_create(
            booking=booking,
            reviewer=booking.customer,
            defaults={
                "reviewee_id": booking.technician_id,
                "direction": ReviewDirection.CUSTOMER_TO_TECHNICIAN,
                "overall": overall,
                "comment": self.rng.choice(
                    ["Kazi safi, asante!", "On time and tidy.", "Good work, fair price.", "OK."]
                ),
                "visible_from": booking.confirmed_at or self.now,
                "counted_at": booking.confirmed_at or self.now,
            },
        )

    def _refresh_technician_aggregates(self, technicians) -> None:
        """Profile counters from the rows just written, computed in the database."""
        ids = [t.pk for t in technicians]
        completed = dict(
            Booking.objects.filter(technician_id__in=ids, status__in=["completed", "confirmed"])
            .values_list("technician_id")
            .annotate(n=Count("id"))
        )
        ratings: dict = {}
        for row in (
            Review.objects.filter(reviewee_id__in=ids, is_hidden=False)
            .values("reviewee_id")
            .annotate(avg=Avg("overall"), n=Count("id"))
        ):
            ratings[row["reviewee_id"]] = (row["avg"], row["n"])
        profiles = list(TechnicianProfile.objects.filter(user_id__in=ids))
        for profile in profiles:
            avg, n = ratings.get(profile.user_id, (None, 0))
            profile.jobs_completed = completed.get(profile.user_id, 0)
            profile.rating_count = n
            profile.rating_average = Decimal(str(round(avg, 2))) if avg else Decimal("0")
        TechnicianProfile.objects.bulk_update(
            profiles, ["jobs_completed", "rating_count", "rating_average"], batch_size=500
        )

    # --- support -------------------------------------------------------------------------------------------------

    def _seed_tickets(self, target: int, customers) -> int:
        existing = SupportTicket.objects.filter(created_by__in=customers).count()
        missing = max(0, target - existing)
        progress = Progress(self.stdout, "tickets", missing)

        for i in range(missing):
            category, priority, subject, description = TICKETS[(existing + i) % len(TICKETS)]
            customer = self.rng.choice(customers)
            booking_id = (
                Booking.objects.filter(customer=customer).values_list("pk", flat=True).first()
                if category in {"booking", "payment", "billing", "complaint"}
                else None
            )
            ticket = ticket_create(
                created_by=customer,
                subject=subject,
                description=description,
                category=category,
                priority=priority,
                related_booking_id=booking_id,
            )
            if ticket.assigned_to is not None and i % 2 == 0:
                ticket_message_create(
                    ticket=ticket,
                    author=ticket.assigned_to,
                    body="Pole sana for the trouble. We are looking into it now.",
                )
            progress.advance()
        progress.finish()
        return missing
