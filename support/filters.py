"""Query-string filters of the support lists (see dumuwaks.core.filtering)."""

import django_filters
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field

from dumuwaks.core.filtering import FilterSet
from support.models import SupportTicket, TicketCategory, TicketPriority, TicketStatus

ASSIGNED_TO_PATTERN = r"^(me|none|\d{1,18})$"


class SupportTicketFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=TicketStatus.choices)
    priority = django_filters.ChoiceFilter(choices=TicketPriority.choices)
    category = django_filters.ChoiceFilter(choices=TicketCategory.choices)
    assigned_to = extend_schema_field({"type": "string", "pattern": ASSIGNED_TO_PATTERN})(
        django_filters.CharFilter(
            method="filter_assigned_to",
            validators=[RegexValidator(ASSIGNED_TO_PATTERN, "An agent id, `me` or `none`.")],
            help_text="an agent id, `me` or `none`",
        )
    )

    class Meta:
        model = SupportTicket
        fields: list = []

    def filter_assigned_to(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "me":
            return queryset.filter(assigned_to=self.user)
        if value == "none":
            return queryset.filter(assigned_to__isnull=True)
        return queryset.filter(assigned_to_id=int(value))
