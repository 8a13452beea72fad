from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import (
    Exists,
    F,
    FloatField,
    Func,
    OuterRef,
    Prefetch,
    QuerySet,
    TextField,
    Value,
)
from django.db.models.functions import ASin, Cos, Least, Power, Radians, Sin, Sqrt
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.errors import PortfolioItemNotFound, TechnicianNotFound
from accounts.filters import TechnicianSearchFilter, UserFilter
from accounts.models import (
    CorporateProfile,
    KycStatus,
    PortfolioItem,
    PortfolioItemMedia,
    Role,
    ServiceCategory,
    TechnicianProfile,
    TechnicianSkill,
    User,
)
from bookings import selectors as bookings_selectors
from dumuwaks.core.compiled_queries import CompiledQuery
from dumuwaks.core.errors import Forbidden, NotFound
from dumuwaks.core.filtering import filter_queryset, validated_filterset
from dumuwaks.core.permissions import is_admin, is_staff_member
from dumuwaks.core.rendered_cache import RowVersion, row_version, rows_version
from social.selectors import reviews as review_selectors

EARTH_RADIUS_KM = 6371.0
KM_PER_DEGREE_LATITUDE = 111.045


def _with_profile_data(queryset: QuerySet[User]) -> QuerySet[User]:
    return (
        queryset.select_related("technician_profile", "corporate_profile")
        .prefetch_related(
            Prefetch(
                "technician_profile__skill_links",
                queryset=TechnicianSkill.objects.select_related("category").order_by(
                    "category__name"
                ),
            )
        )
        .annotate(
            two_factor_enabled=Exists(
                TOTPDevice.objects.filter(user_id=OuterRef("pk"), confirmed=True)
            )
        )
    )


def _user_by_id(_shape, *, user_id: int) -> QuerySet[User]:
    return User.objects.filter(pk=user_id)


# Read on every authenticated request: compiled once per process (dumuwaks.core.compiled_queries).
_USER_BY_ID = CompiledQuery(_user_by_id, parameters={"user_id": int})


def user_for_access_token(*, user_id: int) -> User | None:
    """The user row behind an access token, read on every authenticated request."""
    found = _USER_BY_ID.objects(user_id=user_id)
    return found[0] if found else None


@functools.cache  # built once: the expression is resolved afresh (copied) by every queryset using it
def account_representation_version() -> Func:
    """Annotation on a User queryset: the versions (`dumuwaks.core.rendered_cache`) of every row
    `AccountUserSerializer` shows: the user, both profiles, the skills with their categories, the 2FA
    devices."""
    user = OuterRef("pk")
    return Func(
        Value("/"),
        RowVersion("pk"),
        row_version(TechnicianProfile.objects.filter(user_id=user)),
        row_version(CorporateProfile.objects.filter(user_id=user)),
        rows_version(
            TechnicianSkill.objects.filter(profile__user_id=user), also=["category__slug"]
        ),
        rows_version(TOTPDevice.objects.filter(user_id=user)),
        function="CONCAT_WS",
        output_field=TextField(),
    )


def _account_version(_shape, *, user_id: int) -> QuerySet:
    return (
        User.objects.filter(pk=user_id)
        .annotate(version=account_representation_version())
        .values_list("version")
    )


# Every GET /auth/me reads one (dumuwaks.core.compiled_queries).
_ACCOUNT_VERSION = CompiledQuery(_account_version, parameters={"user_id": int})


def account_version(*, user_id: int) -> str | None:
    """The version of the user's account representation (`account_representation_version`); None if there
    is no such user."""
    found = _ACCOUNT_VERSION.rows(user_id=user_id)
    return found[0][0] if found else None


def user_get_with_profile_and_version(*, user_id: int) -> User | None:
    """`user_get_with_profile` with its representation's `version`, read with it; None if there is none."""
    users = _with_profile_data(User.objects.filter(pk=user_id)).annotate(
        version=account_representation_version()
    )
    return next(iter(users[:1]), None)


def user_get_with_profile(*, user_id: int) -> User:
    found = list(_with_profile_data(User.objects.filter(pk=user_id))[:1])  # by pk: no ORDER BY
    if not found:
        raise NotFound()
    return found[0]


def user_list(*, filters: Mapping | None = None) -> QuerySet[User]:
    """`filters`: the query parameters of UserFilter (a 400 if invalid)."""
    queryset = filter_queryset(UserFilter, data=filters, queryset=User.objects.all())
    return _with_profile_data(queryset).order_by("-date_joined", "-id")


def user_get_for_viewer(*, viewer: User, user_id: int, for_write: bool = False) -> User:
    """The user `viewer` may see: themselves, anyone for staff. Others do not exist (404).

    Writes are for the user themselves or an admin; support agents can read but not write (403).
    """
    if viewer.pk == user_id:
        return user_get_with_profile(user_id=user_id)
    if not is_staff_member(viewer):
        raise NotFound()
    user = user_get_with_profile(user_id=user_id)
    if for_write and not is_admin(viewer):
        raise Forbidden("Only administrators may change other users.")
    return user


def technician_profile_get_for_staff(*, user_id: int) -> TechnicianProfile:
    profile = (
        TechnicianProfile.objects.select_related("user")
        .filter(user_id=user_id, user__deleted_at__isnull=True)
        .first()
    )
    if profile is None:
        raise NotFound("This user has no technician profile.")
    return profile


def category_list() -> QuerySet[ServiceCategory]:
    return ServiceCategory.objects.filter(is_active=True).order_by("name", "id")


def _haversine_km(lat: float, lng: float):
    """Great-circle distance from (lat, lng) to each user's coordinates, computed by PostgreSQL."""
    lat_rad = math.radians(lat)
    dlat = Radians(F("user__latitude")) - Value(lat_rad)
    dlng = Radians(F("user__longitude")) - Value(math.radians(lng))
    a = Power(Sin(dlat / 2), 2) + Value(math.cos(lat_rad)) * Cos(
        Radians(F("user__latitude"))
    ) * Power(Sin(dlng / 2), 2)
    # Least() guards against a rounding error pushing asin's argument past 1.
    return Value(2 * EARTH_RADIUS_KM) * ASin(Sqrt(Least(a, Value(1.0))))


def technician_search(*, filters: Mapping | None = None) -> QuerySet[TechnicianProfile]:
    """Public search over approved, active technicians; nearest first when a location is given.
    `filters`: the query parameters of TechnicianSearchFilter (a 400 if invalid)."""
    filterset = validated_filterset(
        TechnicianSearchFilter,
        data=filters,
        queryset=TechnicianProfile.objects.filter(
            kyc_status=KycStatus.APPROVED,
            user__role=Role.TECHNICIAN,
            user__is_active=True,
            user__deleted_at__isnull=True,
        ),
    )
    location = filterset.form.cleaned_data
    latitude, longitude, radius_km = location["lat"], location["lng"], location["radiusKm"]
    queryset = filterset.qs
    queryset = queryset.select_related("user").prefetch_related(
        Prefetch(
            "skill_links",
            queryset=TechnicianSkill.objects.select_related("category").order_by("category__name"),
        )
    )
    if latitude is None or longitude is None:
        return queryset.annotate(distance_km=Value(None, output_field=FloatField())).order_by(
            "-rating_average", "-rating_count", "pk"
        )

    # A cheap bounding box (index on latitude/longitude) narrows the rows before the exact distance.
    lat_delta = radius_km / KM_PER_DEGREE_LATITUDE
    lng_delta = radius_km / (KM_PER_DEGREE_LATITUDE * max(math.cos(math.radians(latitude)), 0.01))
    return (
        queryset.filter(
            user__latitude__range=(latitude - lat_delta, latitude + lat_delta),
            user__longitude__range=(longitude - lng_delta, longitude + lng_delta),
        )
        .annotate(distance_km=_haversine_km(latitude, longitude))
        .filter(distance_km__lte=radius_km)
        .order_by("distance_km", "-rating_average", "pk")
    )


# --- Portfolio and public technician profiles ---------------------------------------------------------------------


def _portfolio_with_details(queryset: QuerySet[PortfolioItem]) -> QuerySet[PortfolioItem]:
    return (
        queryset.select_related("category")
        .prefetch_related(
            Prefetch(
                "media_links",
                queryset=PortfolioItemMedia.objects.filter(asset__is_deleted=False)
                .select_related("asset")
                .order_by("position", "id"),
            )
        )
        .order_by("position", "id")
    )


def portfolio_items_of_owner(*, technician: User) -> QuerySet[PortfolioItem]:
    """Every item of the technician's own portfolio, hidden ones included (marked), in profile order."""
    return _portfolio_with_details(PortfolioItem.objects.filter(profile__user_id=technician.pk))


def portfolio_item_of_owner(*, technician: User, item_id: int) -> PortfolioItem:
    item = portfolio_items_of_owner(technician=technician).filter(pk=item_id).first()
    if item is None:
        raise PortfolioItemNotFound()
    return item


def portfolio_item_for_staff(*, item_id: int) -> PortfolioItem:
    item = (
        _portfolio_with_details(PortfolioItem.objects.filter(pk=item_id))
        .select_related("profile")
        .first()
    )
    if item is None:
        raise PortfolioItemNotFound()
    return item


def technician_public_get(*, technician_id: int) -> TechnicianProfile:
    """The profile anyone may open: an active, not deleted technician's (404 otherwise), with the user,
    skills with their categories and the visible portfolio (staff-hidden items never) loaded."""
    profile = (
        TechnicianProfile.objects.filter(
            user_id=technician_id,
            user__role=Role.TECHNICIAN,
            user__is_active=True,
            user__deleted_at__isnull=True,
        )
        .select_related("user")
        .prefetch_related(
            Prefetch(
                "skill_links",
                queryset=TechnicianSkill.objects.filter(category__is_active=True)
                .select_related("category")
                .order_by("category__name"),
            ),
            Prefetch(
                "portfolio_items",
                queryset=_portfolio_with_details(PortfolioItem.objects.filter(is_hidden=False)),
                to_attr="visible_portfolio",
            ),
        )
        .first()
    )
    if profile is None:
        raise TechnicianNotFound()
    return profile


PROFILE_RECENT_REVIEWS = 5
PROFILE_FREE_SLOTS = 5
PROFILE_FREE_SLOT_DAYS = 14  # how far ahead the profile looks for free slots
PROFILE_SLOT_MINUTES = 60


@dataclass(frozen=True)
class TechnicianPublicProfile:
    profile: TechnicianProfile
    ratings: dict
    recent_reviews: list
    next_free_slots: list
    return_visit_rate: float | None


def technician_public_profile(*, technician_id: int) -> TechnicianPublicProfile:
    """Everything `GET /technicians/{id}` shows, in a fixed number of queries whatever the size of the
    portfolio or the number of reviews: ratings from published customer reviews (overall, per aspect), the
    latest published reviews with the technician's replies, the next free one-hour slots within two
    weeks (the bookings availability rules) and the return-visit rate (README "Workmanship guarantee")."""
    profile = technician_public_get(technician_id=technician_id)
    today = timezone.localdate()
    slots, _ = bookings_selectors.technician_free_slots(
        technician=profile.user,
        date_from=today,
        date_to=today + timedelta(days=PROFILE_FREE_SLOT_DAYS - 1),
        slot_minutes=PROFILE_SLOT_MINUTES,
    )
    return TechnicianPublicProfile(
        profile=profile,
        ratings=review_selectors.technician_review_aggregates(technician_id=technician_id),
        recent_reviews=list(
            review_selectors.technician_reviews_published(technician_id=technician_id)[
                :PROFILE_RECENT_REVIEWS
            ]
        ),
        next_free_slots=slots[:PROFILE_FREE_SLOTS],
        return_visit_rate=bookings_selectors.return_visit_rate(technician_id=technician_id),
    )
