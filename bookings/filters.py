"""Query-string filters of the booking lists (see dumuwaks.core.filtering)."""

import django_filters

from bookings.models import Dispute, DisputeStatus
from dumuwaks.core.filtering import FilterSet


class DisputeFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=DisputeStatus.choices)

    class Meta:
        model = Dispute
        fields: list = []
