"""Query-string filters of the matching lists (see dumuwaks.core.filtering)."""

import django_filters

from dumuwaks.core.filtering import FilterSet
from matching.models import Match, MatchStatus


class MatchFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=MatchStatus.choices)

    class Meta:
        model = Match
        fields: list = []
