"""Default notification preferences: every (group, channel) is on, except marketing by SMS and email,
which a user must opt into (Kenyan data protection rules and SMS costs). An explicit
NotificationPreference row overrides the default for that (group, channel)."""

from __future__ import annotations

from notifications.models import NotificationChannel, NotificationGroup, NotificationPreference

DEFAULT_OFF = frozenset(
    {
        (NotificationGroup.MARKETING.value, NotificationChannel.SMS.value),
        (NotificationGroup.MARKETING.value, NotificationChannel.EMAIL.value),
    }
)


def default_enabled(group: str, channel: str) -> bool:
    return (group, channel) not in DEFAULT_OFF


def preference_matrix(*, user_id: int) -> dict[str, dict[str, bool]]:
    """{group: {channel: enabled}} for every group and channel (one query)."""
    matrix = {
        group: {channel: default_enabled(group, channel) for channel in NotificationChannel.values}
        for group in NotificationGroup.values
    }
    rows = NotificationPreference.objects.filter(user_id=user_id).values_list(
        "group", "channel", "enabled"
    )
    for group, channel, enabled in rows:
        if group in matrix and channel in matrix[group]:
            matrix[group][channel] = enabled
    return matrix


def enabled_channels(*, user_id: int, group: str) -> set[str]:
    overrides = dict(
        NotificationPreference.objects.filter(user_id=user_id, group=group).values_list(
            "channel", "enabled"
        )
    )
    return {
        channel
        for channel in NotificationChannel.values
        if overrides.get(channel, default_enabled(group, channel))
    }
