"""Query-string filters of the payment and payout lists (see dumuwaks.core.filtering)."""

import django_filters
from django.db.models import QuerySet

from dumuwaks.core.filtering import FilterSet, IdFilter
from payments.models import Payment, Payout, PayoutStatus

PAYMENT, PAYOUT = "payment", "payout"


class TransactionFilter(FilterSet):
    """Applied to the payments and to the payouts of `transaction_list`, which unions them; `type` picks
    one of the two there."""

    type = django_filters.ChoiceFilter(
        choices=[(PAYMENT, "Payments"), (PAYOUT, "Payouts")], method="filter_type"
    )
    status = django_filters.CharFilter(max_length=24)
    kind = django_filters.CharFilter(
        max_length=24, method="filter_kind", help_text="A payment's purpose or a payout's kind"
    )
    booking = IdFilter(field_name="booking_id")

    def filter_type(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        wanted = Payment if value == PAYMENT else Payout
        return queryset if queryset.model is wanted else queryset.none()

    def filter_kind(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        field = "purpose" if queryset.model is Payment else "kind"
        return queryset.filter(**{field: value})


class PayoutPendingFilter(FilterSet):
    status = django_filters.ChoiceFilter(
        choices=PayoutStatus.choices,
        initial=PayoutStatus.PENDING_REVIEW,
        help_text="Default `pending_review`",
    )

    class Meta:
        model = Payout
        fields: list = []
