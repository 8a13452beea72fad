"""API representations kept in the cache under the version of the rows they are built from.

PostgreSQL gives every committed row version a new `xmin` (the id of the transaction that wrote it),
whatever wrote it: a model save, `queryset.update()`, the admin, a migration, raw SQL. A key holding the
`xmin` of every row a representation is built from therefore names one content exactly: a change to any
of those rows makes a new key, and nothing has to be invalidated; unused keys expire after
`RENDERED_CACHE_SECONDS`. Rows that may vanish or appear (a deleted skill, a new 2FA device) are versioned
as the ordered list of their `xmin`s, so the list changes too.

Within one transaction a row updated twice keeps the same `xmin`, so a version only identifies committed
rows: the cache is used outside an open transaction only (`usable()`). API reads run in autocommit.
After restoring a backup into a new cluster, flush the cache: transaction ids start over.
"""

from django.conf import settings
from django.db import connection

from dumuwaks.core.renderers import CamelCaseJSONRenderer


def usable() -> bool:
    return settings.RENDERED_CACHE_SECONDS > 0 and not connection.in_atomic_block


def timeout() -> int:
    return settings.RENDERED_CACHE_SECONDS


def render(data) -> bytes:
    """The bytes `CamelCaseJSONRenderer` writes for `data` in a response: what the cache keeps."""
    return CamelCaseJSONRenderer().render(data)
