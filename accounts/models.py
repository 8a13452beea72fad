from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import RegexValidator
from django.db import IntegrityError, models, router, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.handles import HANDLE_MAX_LENGTH, HANDLE_PATTERN, handle_base, handle_first_free
from dumuwaks.core.models import StatusHistory, TimeStampedModel
from dumuwaks.core.money import CurrencyField, MoneyField
from dumuwaks.core.phone import PhoneNumberField
from dumuwaks.core.state_machine import StateMachine, register


class Role(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    TECHNICIAN = "technician", "Technician"
    CORPORATE = "corporate", "Corporate client"
    SUPPORT = "support", "Support agent"
    ADMIN = "admin", "Administrator"


SELF_SERVICE_ROLES = (Role.CUSTOMER, Role.TECHNICIAN, Role.CORPORATE)
SELF_SERVICE_ROLE_CHOICES = [(role.value, role.label) for role in SELF_SERVICE_ROLES]
STAFF_ROLES = (Role.SUPPORT, Role.ADMIN)


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    SWAHILI = "sw", "Kiswahili"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("Users need an email address")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True, role=Role.ADMIN)
        extra.setdefault("is_email_verified", True)
        return self._create_user(email, password, **extra)


HANDLE_UNIQUE_CONSTRAINT = "user_handle_unique"
_HANDLE_ATTEMPTS = 5


class User(AbstractBaseUser, PermissionsMixin, TimeStampedModel):
    """Everyone who signs in: customers, technicians, corporate clients and staff.

    Deleting a user deactivates and anonymises the row (`deleted_at` set) so bookings and money records keep
    their counterparty.
    """

    email = models.EmailField(max_length=254, unique=True)  # stored lower-cased; see constraint
    phone_number = PhoneNumberField(null=True, blank=True)
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    # How posts mention the user (`@wanjiku.kamau`); the rule is in accounts/handles.py. Given on first save.
    handle = models.CharField(
        max_length=HANDLE_MAX_LENGTH,
        help_text="Unique; `@handle` in a post mentions this user",
        validators=[
            RegexValidator(
                HANDLE_PATTERN,
                "1-30 lower-case letters, digits, dots or underscores; start and end with a letter"
                " or digit.",
            )
        ],
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)

    address = models.CharField(max_length=255, blank=True)
    county = models.CharField(max_length=64, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)
    preferred_language = models.CharField(
        max_length=2, choices=Language.choices, default=Language.ENGLISH
    )

    is_email_verified = models.BooleanField(default=False)
    is_phone_verified = models.BooleanField(default=False)
    phone_changed_at = models.DateTimeField(null=True, blank=True)

    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can log into the Django admin.")
    date_joined = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)

    # No longer read or written: failed sign-ins are counted per email and source address in Redis
    # (accounts.throttles). Kept while a deployed release may still select it; drop it in a later migration.
    failed_login_attempts = models.PositiveSmallIntegerField(default=0)
    # For staff only (the admin's column and filter): the latest end of a sign-in lock of this account from
    # some address, written by accounts.tasks.sign_in_lock_record. Sign-ins are refused per address in Redis.
    locked_until = models.DateTimeField(null=True, blank=True)
    # Set by logout: access tokens issued before this instant (to the microsecond) are refused
    # (accounts.authentication).
    access_tokens_valid_after = models.DateTimeField(null=True, blank=True, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["first_name", "last_name"]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.UniqueConstraint(fields=["phone_number"], name="user_phone_unique"),
            models.UniqueConstraint(fields=["handle"], name=HANDLE_UNIQUE_CONSTRAINT),
            models.CheckConstraint(
                condition=models.Q(handle__regex=HANDLE_PATTERN), name="user_handle_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="user_role_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["role", "is_active"]),
            models.Index(fields=["latitude", "longitude"]),
        ]

    def __str__(self):
        return f"{self.get_full_name()} <{self.email}>"

    def save(self, *args, **kwargs):
        """A user saved without a handle (every creation path: registration, createsuperuser, the admin,
        factories) gets the first free one derived from the name. Two users taking the same one at once:
        the database refuses the second, which tries the next."""
        if self.handle:
            return super().save(*args, **kwargs)
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        for _ in range(_HANDLE_ATTEMPTS):
            base = handle_base(first_name=self.first_name, last_name=self.last_name)
            taken = User.objects.using(using).filter(handle__startswith=base)
            self.handle = handle_first_free(base, taken=set(taken.values_list("handle", flat=True)))
            try:
                with transaction.atomic(using=using):
                    return super().save(*args, **kwargs)
            except IntegrityError as exc:
                self.handle = ""
                diag = getattr(exc.__cause__, "diag", None)
                if getattr(diag, "constraint_name", None) != HANDLE_UNIQUE_CONSTRAINT:
                    raise
        raise IntegrityError(f"No free handle for {self.email} after {_HANDLE_ATTEMPTS} attempts")

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name

    @property
    def is_technician(self) -> bool:
        return self.role == Role.TECHNICIAN

    @property
    def is_customer(self) -> bool:
        return self.role in (Role.CUSTOMER, Role.CORPORATE)

    @property
    def is_staff_member(self) -> bool:
        return self.is_superuser or self.role in STAFF_ROLES

    @property
    def is_locked(self) -> bool:
        """Some address is refused sign-in to this account (not necessarily the caller's)."""
        return bool(self.locked_until and self.locked_until > timezone.now())


class ServiceCategory(TimeStampedModel):
    """A trade customers book (plumbing, electrical, …) with a typical price range in KES."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100, unique=True)
    name_sw = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    typical_price_min = MoneyField(default=0)
    typical_price_max = MoneyField(default=0)
    currency = CurrencyField()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "service categories"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(typical_price_max__gte=models.F("typical_price_min")),
                name="category_price_range_ordered",
            )
        ]

    def __str__(self):
        return self.name


class KycStatus(models.TextChoices):
    NOT_SUBMITTED = "not_submitted", "Not submitted"
    PENDING = "pending", "Pending review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class KycRejectionReason(models.TextChoices):
    """Why staff refused a technician's documents; the label (and staff's details) reach the technician."""

    DOCUMENT_UNREADABLE = "document_unreadable", "The ID photo is blurred, dark or cut off"
    DOCUMENT_EXPIRED = "document_expired", "The ID document has expired"
    DOCUMENT_NOT_ACCEPTED = (
        "document_not_accepted",
        "This is not an accepted ID document (national ID, passport or alien card)",
    )
    SELFIE_MISMATCH = "selfie_mismatch", "The selfie does not match the ID photo"
    DETAILS_MISMATCH = "details_mismatch", "The ID number or name does not match your profile"
    OTHER = "other", "Other (explained in the details)"


# What the technician reads, in their language. "Other" has no label: the details are the reason.
KYC_REJECTION_REASON_LABELS: dict[str, dict[str, str]] = {
    "en": {
        code: str(label)
        for code, label in KycRejectionReason.choices
        if code != KycRejectionReason.OTHER
    },
    "sw": {
        KycRejectionReason.DOCUMENT_UNREADABLE: (
            "Picha ya kitambulisho haionekani vizuri: ina ukungu, giza au imekatika"
        ),
        KycRejectionReason.DOCUMENT_EXPIRED: "Kitambulisho kimepitwa na muda wake",
        KycRejectionReason.DOCUMENT_NOT_ACCEPTED: (
            "Hiki si kitambulisho kinachokubalika (kitambulisho cha taifa, pasipoti au"
            " kitambulisho cha mgeni)"
        ),
        KycRejectionReason.SELFIE_MISMATCH: "Picha yako (selfie) hailingani na picha ya kitambulisho",
        KycRejectionReason.DETAILS_MISMATCH: (
            "Nambari ya kitambulisho au jina halilingani na wasifu wako"
        ),
    },
}


def kyc_rejection_reason_text(*, code: str, details: str, language: str) -> str:
    """The reason as the technician reads it: the label in their language, then staff's details."""
    labels = KYC_REJECTION_REASON_LABELS.get(language, KYC_REJECTION_REASON_LABELS["en"])
    label = labels.get(code, "")
    return " ".join(part for part in (f"{label}." if label else "", details.strip()) if part)


class TechnicianProfile(TimeStampedModel):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="technician_profile")
    bio = models.TextField(blank=True)
    hourly_rate = MoneyField(default=0)
    currency = CurrencyField()
    service_radius_km = models.PositiveIntegerField(default=20)
    is_available = models.BooleanField(default=True)
    skills = models.ManyToManyField(
        ServiceCategory, through="TechnicianSkill", related_name="technicians"
    )

    national_id_number = models.CharField(max_length=20, blank=True)
    id_document_url = models.URLField(max_length=500, blank=True)
    selfie_url = models.URLField(max_length=500, blank=True)
    kyc_status = models.CharField(
        max_length=16, choices=KycStatus.choices, default=KycStatus.NOT_SUBMITTED
    )
    kyc_submitted_at = models.DateTimeField(null=True, blank=True)
    kyc_reviewed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="kyc_reviews_done"
    )
    kyc_reviewed_at = models.DateTimeField(null=True, blank=True)
    kyc_rejection_reason_code = models.CharField(
        max_length=32, choices=KycRejectionReason.choices, blank=True
    )
    # Staff's own words: the whole reason for "other", optional details otherwise.
    kyc_rejection_reason = models.TextField(blank=True)

    # Aggregates maintained by the services that own the facts (reviews, bookings); read by matching/search.
    rating_average = models.DecimalField(max_digits=3, decimal_places=2, default=0)
    rating_count = models.PositiveIntegerField(default=0)
    jobs_completed = models.PositiveIntegerField(default=0)
    jobs_cancelled_by_technician = models.PositiveIntegerField(default=0)
    average_response_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kyc_status__in=KycStatus.values), name="kyc_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(kyc_rejection_reason_code="")
                | models.Q(kyc_rejection_reason_code__in=KycRejectionReason.values),
                name="kyc_rejection_reason_code_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(hourly_rate__gte=0), name="hourly_rate_non_negative"
            ),
        ]
        indexes = [models.Index(fields=["kyc_status", "is_available"])]

    def __str__(self):
        return f"Technician {self.user.get_full_name()}"


class TechnicianSkill(TimeStampedModel):
    profile = models.ForeignKey(
        TechnicianProfile, on_delete=models.CASCADE, related_name="skill_links"
    )
    category = models.ForeignKey(
        ServiceCategory, on_delete=models.PROTECT, related_name="skill_links"
    )
    years_of_experience = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["profile", "category"], name="technician_skill_unique")
        ]


MAX_PORTFOLIO_ITEMS = 50  # per technician: the public profile shows them all
MAX_PORTFOLIO_MEDIA = 10  # per item


class PortfolioItem(TimeStampedModel):
    """A job a technician shows on their public profile. Written only through
    `accounts.services.portfolio` (the owner creates, edits, reorders and deletes; staff hide)."""

    profile = models.ForeignKey(
        TechnicianProfile, on_delete=models.CASCADE, related_name="portfolio_items"
    )
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    # Set by staff in the admin before the portfolio API existed; new items carry uploads (`media`).
    media_url = models.URLField(max_length=500, blank=True)
    category = models.ForeignKey(
        ServiceCategory,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="portfolio_items",
    )
    completed_on = models.DateField(null=True, blank=True)
    # One of the technician's own completed bookings: the profile shows the item as a verified job.
    booking = models.ForeignKey(
        "bookings.Booking",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="portfolio_items",
    )
    position = models.PositiveIntegerField(default=0, help_text="0 = first on the profile")
    is_hidden = models.BooleanField(default=False, help_text="Hidden by staff moderation")
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hidden_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            # A job is shown once: two items cannot claim the same booking.
            models.UniqueConstraint(
                fields=["booking"],
                condition=models.Q(booking__isnull=False),
                name="portfolio_item_booking_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(is_hidden=False) | models.Q(hidden_at__isnull=False),
                name="portfolio_item_hidden_has_timestamp",
            ),
        ]
        indexes = [models.Index(fields=["profile", "is_hidden", "position"])]

    def __str__(self):
        return self.title


class PortfolioItemMedia(TimeStampedModel):
    """An upload shown on a portfolio item, in `position` order."""

    item = models.ForeignKey(PortfolioItem, on_delete=models.CASCADE, related_name="media_links")
    asset = models.ForeignKey(
        "social.MediaAsset", on_delete=models.CASCADE, related_name="portfolio_links"
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "asset"], name="portfolio_media_unique")
        ]

    def __str__(self):
        return f"{self.asset_id} on portfolio item {self.item_id}"


class KycReview(StatusHistory):
    """Audit row for every KYC status change; `note` is staff's words, `reason_code` a rejection's reason."""

    profile = models.ForeignKey(
        TechnicianProfile, on_delete=models.CASCADE, related_name="kyc_history"
    )
    reason_code = models.CharField(max_length=32, choices=KycRejectionReason.choices, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(StatusHistory.Meta):
        pass


# The one KYC transition service (accounts.services.kyc.kyc_transition) only follows these edges.
KYC_MACHINE = register(
    StateMachine(
        label="KYC",
        article="",
        model=TechnicianProfile,
        field="kyc_status",
        transitions={
            KycStatus.NOT_SUBMITTED: frozenset({KycStatus.PENDING}),
            KycStatus.PENDING: frozenset({KycStatus.APPROVED, KycStatus.REJECTED}),
            KycStatus.REJECTED: frozenset({KycStatus.PENDING}),
            KycStatus.APPROVED: frozenset({KycStatus.REJECTED}),  # staff may revoke an approval
        },
        history_model=KycReview,
        history_fk="profile",
    )
)


class CorporateProfile(TimeStampedModel):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="corporate_profile")
    company_name = models.CharField(max_length=200)
    kra_pin = models.CharField(
        max_length=11, blank=True, help_text="Kenya Revenue Authority PIN, e.g. P051234567X"
    )

    def __str__(self):
        return self.company_name
