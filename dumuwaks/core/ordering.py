"""`ordering` query parameters in the wire's case: clients sort by the camelCase field names they see in
bodies (`-scheduledStart`); views and selectors keep their snake_case keys (`-scheduled_start`)."""

from __future__ import annotations

import re
from collections.abc import Iterable

_UNDERSCORE = re.compile(r"_([a-z0-9])")


def camel_ordering(key: str) -> str:
    """`-scheduled_start` -> `-scheduledStart`."""
    return _UNDERSCORE.sub(lambda match: match.group(1).upper(), key)


def camel_orderings(keys: Iterable[str]) -> list[str]:
    """The values an `ordering` parameter documents and accepts, sorted."""
    return sorted(camel_ordering(key) for key in keys)
