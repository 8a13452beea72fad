"""Query-string filters of the chat and notification lists (see dumuwaks.core.filtering)."""

import django_filters

from dumuwaks.core.filtering import BooleanFilter, FilterSet
from notifications.models import (
    Conversation,
    ConversationKind,
    Notification,
    NotificationGroup,
)


class ConversationFilter(FilterSet):
    kind = django_filters.ChoiceFilter(choices=ConversationKind.choices)

    class Meta:
        model = Conversation
        fields: list = []


class NotificationFilter(FilterSet):
    unread = BooleanFilter(
        field_name="is_read", exclude=True, help_text="true: unread only; false: read only"
    )
    group = django_filters.ChoiceFilter(choices=NotificationGroup.choices)

    class Meta:
        model = Notification
        fields: list = []
