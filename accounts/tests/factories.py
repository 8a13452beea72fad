"""factory_boy factories for people and trades: the one way every app's tests make a user.

`UserFactory(email=..., role=..., phone_number=..., **fields)` saves through `User.objects.create_user` (the
email normalised and the password hashed as at registration; `DEFAULT_PASSWORD` unless given), verified email,
first name from the email's local part unless given. `CustomerFactory()` is a customer in central Nairobi.
`TechnicianFactory()` is a technician in central Nairobi with a KYC-approved, available profile (hourly rate
1500, radius 30 km) and a plumbing skill of 5 years:
`skill=<category>` chooses the skill, `skill=False` gives none, `skill__years=`/`skill__extra_skills=[...]` the
years and more skills (1 year each), and `profile__<field>=` any profile field (`profile__rating_average=4.8`,
`profile__kyc_status="pending"`). The root conftest builds its personas with these.
"""

from decimal import Decimal

import factory

from accounts.models import (
    KycStatus,
    Role,
    ServiceCategory,
    TechnicianProfile,
    TechnicianSkill,
    User,
)

DEFAULT_PASSWORD = "S3cure-Passw0rd!"
NAIROBI_LAT = -1.2921
NAIROBI_LNG = 36.8219


class ServiceCategoryFactory(factory.django.DjangoModelFactory):
    """Plumbing unless another `slug` is given (got, not duplicated, when it exists)."""

    class Meta:
        model = ServiceCategory
        django_get_or_create = ("slug",)

    slug = "plumbing"
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    typical_price_min = Decimal("1000")
    typical_price_max = Decimal("15000")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.co.ke")
    phone_number = factory.Sequence(lambda n: f"+2547{n:08d}")
    first_name = factory.LazyAttribute(lambda o: o.email.split("@")[0].title())
    last_name = "Test"
    role = Role.CUSTOMER
    is_email_verified = True
    password = DEFAULT_PASSWORD

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.objects.create_user(*args, **kwargs)


class CustomerFactory(UserFactory):
    role = Role.CUSTOMER
    latitude = NAIROBI_LAT
    longitude = NAIROBI_LNG
    county = "Nairobi"


class TechnicianFactory(UserFactory):
    role = Role.TECHNICIAN
    latitude = NAIROBI_LAT
    longitude = NAIROBI_LNG
    county = "Nairobi"

    @factory.post_generation
    def profile(self, create, extracted, **fields):
        if not create:
            return
        TechnicianProfile.objects.create(
            user=self,
            **{
                "hourly_rate": Decimal("1500"),
                "kyc_status": KycStatus.APPROVED,
                "service_radius_km": 30,
                "is_available": True,
                **fields,
            },
        )

    @factory.post_generation
    def skill(self, create, extracted, years=5, extra_skills=()):
        if not create:
            return
        profile = self.technician_profile
        if extracted is not False:
            category = extracted if extracted is not None else ServiceCategoryFactory()
            TechnicianSkill.objects.create(
                profile=profile, category=category, years_of_experience=years
            )
        for other in extra_skills:
            TechnicianSkill.objects.create(profile=profile, category=other, years_of_experience=1)
