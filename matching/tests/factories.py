"""factory_boy factories for matching tests.

`TechnicianUserFactory(latitude=..., profile__category=cat, profile__rating_average=4.8, ...)` gives an
active technician with a KYC-approved, available profile (hourly rate 1500, radius 30 km) and, when
`profile__category` is given, that skill with `profile__years` years (default 5).
"""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from accounts.models import KycStatus, Role, TechnicianProfile, TechnicianSkill, User

BASE_LAT = -1.2921
BASE_LNG = 36.8219
KM_PER_DEGREE = 111.19508  # haversine with R = 6371.0088 km along a meridian


def lat_north(km: float) -> float:
    """Latitude `km` north of the base point (same longitude), so its distance is exactly `km`."""
    return BASE_LAT + km / KM_PER_DEGREE


def tomorrow_at(hour: int, days: int = 1):
    local = timezone.localtime() + timedelta(days=days)
    return local.replace(hour=hour, minute=0, second=0, microsecond=0)


class MatchCustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"mt-customer{n}@example.co.ke")
    phone_number = factory.Sequence(lambda n: f"+25479{n:07d}")
    first_name = factory.Sequence(lambda n: f"Customer{n}")
    last_name = "Test"
    role = Role.CUSTOMER
    latitude = BASE_LAT
    longitude = BASE_LNG
    county = "Nairobi"
    password = factory.django.Password("S3cure-Passw0rd!")


class TechnicianUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"mt-tech{n}@example.co.ke")
    phone_number = factory.Sequence(lambda n: f"+25478{n:07d}")
    first_name = factory.Sequence(lambda n: f"Fundi{n}")
    last_name = "Test"
    role = Role.TECHNICIAN
    latitude = BASE_LAT
    longitude = BASE_LNG
    county = "Nairobi"
    password = factory.django.Password("S3cure-Passw0rd!")

    @factory.post_generation
    def profile(self, create, extracted, **kwargs):
        if not create:
            return
        category = kwargs.pop("category", None)
        years = kwargs.pop("years", 5)
        extra_skills = kwargs.pop("extra_skills", ())
        fields = {
            "hourly_rate": Decimal("1500"),
            "kyc_status": KycStatus.APPROVED,
            "service_radius_km": 30,
            "is_available": True,
            **kwargs,
        }
        profile = TechnicianProfile.objects.create(user=self, **fields)
        if category is not None:
            TechnicianSkill.objects.create(
                profile=profile, category=category, years_of_experience=years
            )
        for other in extra_skills:
            TechnicianSkill.objects.create(profile=profile, category=other, years_of_experience=1)
