"""Query-string filters of the user lists (see dumuwaks.core.filtering)."""

import django_filters
from django import forms
from django.core.validators import validate_slug
from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import KycStatus, Role, TechnicianProfile, TechnicianSkill, User
from dumuwaks.core.filtering import BooleanFilter, FilterSet

DEFAULT_SEARCH_RADIUS_KM = 25


class UserFilter(FilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)
    kyc_status = django_filters.ChoiceFilter(
        field_name="technician_profile__kyc_status", choices=KycStatus.choices
    )
    search = django_filters.CharFilter(
        method="filter_search", max_length=100, help_text="email, name, phone or company contains"
    )
    is_active = BooleanFilter()

    class Meta:
        model = User
        fields: list = []

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        term = value.strip()
        return queryset.filter(
            Q(email__icontains=term)
            | Q(first_name__icontains=term)
            | Q(last_name__icontains=term)
            | Q(phone_number__icontains=term)
            | Q(corporate_profile__company_name__icontains=term)
        )


class FloatFilter(django_filters.NumberFilter):
    field_class = forms.FloatField


class _TechnicianSearchForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        if (cleaned.get("lat") is None) != (cleaned.get("lng") is None):
            self.add_error("lat", "Give both lat and lng, or neither.")
        return cleaned


class TechnicianSearchFilter(FilterSet):
    """`lat`, `lng` and `radiusKm` are validated here and applied by `technician_search`, which also
    orders by distance when they are given."""

    skill = django_filters.CharFilter(
        method="filter_skill",
        validators=[validate_slug],
        help_text="service category slug, e.g. plumbing",
    )
    lat = FloatFilter(
        method="filter_by_selector",
        min_value=-90,
        max_value=90,
        help_text="latitude of the job; with lng",
    )
    lng = FloatFilter(
        method="filter_by_selector",
        min_value=-180,
        max_value=180,
        help_text="longitude of the job; with lat",
    )
    radius_km = FloatFilter(
        method="filter_by_selector",
        min_value=0.1,
        max_value=500,
        initial=DEFAULT_SEARCH_RADIUS_KM,
        help_text="max 500",
    )
    min_rating = FloatFilter(
        field_name="rating_average", lookup_expr="gte", min_value=0, max_value=5
    )
    available = BooleanFilter(field_name="is_available")

    class Meta:
        model = TechnicianProfile
        fields: list = []
        form = _TechnicianSearchForm

    def filter_skill(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            Exists(
                TechnicianSkill.objects.filter(
                    profile_id=OuterRef("pk"), category__slug=value, category__is_active=True
                )
            )
        )

    def filter_by_selector(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset
