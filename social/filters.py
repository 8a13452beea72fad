"""Query-string filters of the social lists (see dumuwaks.core.filtering)."""

import django_filters
from django.db.models import QuerySet

from dumuwaks.core.filtering import FilterSet, IdFilter
from social.models import Post, PostReport, ReportStatus

ALL_REPORTS = "all"


class PostFilter(FilterSet):
    hashtag = django_filters.CharFilter(
        method="filter_hashtag", max_length=65, help_text="With or without the leading #"
    )
    author = IdFilter(field_name="author_id", help_text="Your own id also lists your hidden posts")

    class Meta:
        model = Post
        fields: list = []

    def filter_hashtag(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(hashtags__name=value.lstrip("#").lower())


class PostReportFilter(FilterSet):
    status = django_filters.ChoiceFilter(
        choices=[*ReportStatus.choices, (ALL_REPORTS, "All")],
        method="filter_status",
        initial=ReportStatus.OPEN,
        help_text="Default `open`",
    )

    class Meta:
        model = PostReport
        fields: list = []

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset if value == ALL_REPORTS else queryset.filter(status=value)
