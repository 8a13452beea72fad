"""Minimal idempotent demo data: service categories and one account per role (password `DumuWaks2026!`)."""

from decimal import Decimal

from django.db import transaction

from accounts.models import (
    CorporateProfile,
    KycStatus,
    Role,
    ServiceCategory,
    TechnicianProfile,
    TechnicianSkill,
    User,
)

DEMO_PASSWORD = "DumuWaks2026!"

CATEGORIES = [
    ("plumbing", "Plumbing", "Mabomba", 800, 15000),
    ("electrical", "Electrical", "Umeme", 1000, 20000),
    ("carpentry", "Carpentry", "Useremala", 1000, 25000),
    ("appliance-repair", "Appliance repair", "Ukarabati wa vifaa", 1200, 12000),
    ("painting", "Painting", "Upakaji rangi", 2000, 40000),
    ("masonry", "Masonry", "Uashi", 2500, 60000),
    ("cleaning", "Cleaning", "Usafi", 800, 8000),
    ("hvac", "HVAC", "Viyoyozi", 2500, 30000),
    ("roofing", "Roofing", "Uezekaji", 3000, 80000),
    ("welding", "Welding", "Uchomeleaji", 1500, 30000),
    ("locksmith", "Locksmith", "Fundi kufuli", 800, 6000),
    ("pest-control", "Pest control", "Kudhibiti wadudu", 1500, 15000),
]

ACCOUNTS = [
    ("customer@dumuwaks.test", Role.CUSTOMER, "+254700000001", "Wanjiku", "Kamau"),
    ("technician@dumuwaks.test", Role.TECHNICIAN, "+254700000002", "Kiprop", "Cheruiyot"),
    ("corporate@dumuwaks.test", Role.CORPORATE, "+254700000003", "Amani", "Holdings"),
    ("support@dumuwaks.test", Role.SUPPORT, "+254700000004", "Achieng", "Otieno"),
    ("admin@dumuwaks.test", Role.ADMIN, "+254700000005", "Baraka", "Mwangi"),
]


@transaction.atomic
def load_demo_accounts(*, stdout=None) -> None:
    for slug, name, name_sw, low, high in CATEGORIES:
        ServiceCategory.objects.update_or_create(
            slug=slug,
            defaults={
                "name": name,
                "name_sw": name_sw,
                "typical_price_min": Decimal(low),
                "typical_price_max": Decimal(high),
            },
        )
    for email, role, phone, first, last in ACCOUNTS:
        user, created = User.objects.get_or_create(
            email=email,
            defaults={
                "role": role,
                "phone_number": phone,
                "first_name": first,
                "last_name": last,
                "is_email_verified": True,
                "is_phone_verified": True,
                "is_staff": role in (Role.SUPPORT, Role.ADMIN),
                "is_superuser": role == Role.ADMIN,
                "county": "Nairobi",
                "latitude": -1.2921,
                "longitude": 36.8219,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        if role == Role.TECHNICIAN:
            profile, _ = TechnicianProfile.objects.get_or_create(
                user=user, defaults={"hourly_rate": 1500, "kyc_status": KycStatus.APPROVED}
            )
            TechnicianSkill.objects.get_or_create(
                profile=profile,
                category=ServiceCategory.objects.get(slug="plumbing"),
                defaults={"years_of_experience": 6},
            )
        if role == Role.CORPORATE:
            CorporateProfile.objects.get_or_create(
                user=user, defaults={"company_name": "Amani Holdings Ltd", "kra_pin": "P051234567X"}
            )
    if stdout:
        stdout.write(f"demo data ready: {len(CATEGORIES)} categories, {len(ACCOUNTS)} accounts")
