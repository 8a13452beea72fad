"""`ordering` query parameters in the wire's case: clients sort by the camelCase field names they see in
bodies (`-scheduledStart`); views and selectors keep their snake_case keys (`-scheduled_start`)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rest_framework import serializers

_UNDERSCORE = re.compile(r"_([a-z0-9])")


def camel_ordering(key: str) -> str:
    """`-scheduled_start` -> `-scheduledStart`."""
    return _UNDERSCORE.sub(lambda match: match.group(1).upper(), key)


def camel_orderings(keys: Iterable[str]) -> list[str]:
    """The values an `ordering` parameter documents and accepts, sorted."""
    return sorted(camel_ordering(key) for key in keys)


class OrderingField(serializers.ChoiceField):
    """Accepts the camelCase form of each of `orderings` (snake_case keys, `-` for descending) and returns
    the key; anything else, the snake_case spelling included, is a 400 naming the accepted values.
    `default` is given in camelCase too, as documented."""

    def __init__(self, *, orderings: Iterable[str], **kwargs):
        self.key_for = {camel_ordering(key): key for key in orderings}
        super().__init__(choices=sorted(self.key_for), **kwargs)

    def to_internal_value(self, data):
        return self.key_for[super().to_internal_value(data)]

    def get_default(self):
        return self.key_for[super().get_default()]
