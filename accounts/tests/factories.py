import factory

from accounts.models import (
    KycStatus,
    Role,
    ServiceCategory,
    TechnicianProfile,
    TechnicianSkill,
    User,
)
from conftest import DEFAULT_PASSWORD


class ServiceCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceCategory
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"trade-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    typical_price_min = 500
    typical_price_max = 5000


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.co.ke")
    phone_number = factory.Sequence(lambda n: f"+2547{n:08d}")
    first_name = "Amina"
    last_name = "Wafula"
    role = Role.CUSTOMER
    is_email_verified = True

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or DEFAULT_PASSWORD)
        if create:
            self.save(update_fields=["password"])


class TechnicianProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TechnicianProfile

    user = factory.SubFactory(
        UserFactory, role=Role.TECHNICIAN, latitude=-1.2921, longitude=36.8219, county="Nairobi"
    )
    hourly_rate = 1500
    kyc_status = KycStatus.APPROVED
    service_radius_km = 30


class TechnicianSkillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TechnicianSkill

    profile = factory.SubFactory(TechnicianProfileFactory)
    category = factory.SubFactory(ServiceCategoryFactory)
    years_of_experience = 3
