"""API representations cached per row, under the versions of the rows they are built from.

The ORM selector decides which rows a caller sees and reads their versions (`RowVersion`, annotated on its
queryset); this module keeps each row's rendered JSON under a key made of

- the representation's fingerprint: a hash of its serializer's declared fields and of the source of the
  modules that shape it (`representation_fingerprint`), so a deploy that changes the representation never
  serves an old shape, and nobody bumps a number by hand;
- the row's id and the versions of every row the representation reads;
- what differs between viewers (e.g. which contacts they may see), as the caller says.

A row version is PostgreSQL's `xmin` (the transaction that wrote this version of the row) and `ctid` (where
the version lives). Every write, by any path (a model save, `queryset.update()`, the admin, a migration,
raw SQL), makes a new version, so nothing is invalidated and nothing is stale; unused keys expire after
`RENDERED_CACHE_SECONDS`. Rows that may vanish or appear (payments, skills, 2FA devices) are versioned as
the hashed list of their versions, so the list changes too.

The pair names one content inside transactions too, which is why the cache is on in tests and in every
request alike: within a transaction a row updated twice keeps its `xmin` but gets a new `ctid` (the old
version cannot be reclaimed while the transaction runs), and a rolled-back transaction's id is never
given out again, so no key written from uncommitted data can match a later content. Only a rewrite of a
whole table (VACUUM FULL, pg_repack) or a restore into a new cluster moves or renumbers row versions:
flush the cache after those (docs/operations.md).
"""

from __future__ import annotations

import hashlib
import inspect
import sys
from collections.abc import Callable, Iterable

import rest_framework
from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.core.cache import cache
from django.db.models import Func, QuerySet, Subquery, TextField, Value
from django.db.models.functions import MD5, Coalesce, Concat

from dumuwaks.core.cache import redis_client
from dumuwaks.core.renderers import CamelCaseJSONRenderer

# In place of a row that does not exist (a booking without a technician): the parts of a version never shift.
NO_ROW = "-"


class RowVersion(Func):
    """The version (`xmin` and `ctid`) of the row a column belongs to: `RowVersion("pk")` for the queryset's
    own rows, `RowVersion("customer__email")` for a joined row (null when a LEFT JOIN found none; name a
    column of the joined table itself, not the foreign key's target, which Django reads off the local row).

    Through the column, Django names the table as the query aliases it (also inside subqueries).
    """

    output_field = TextField()
    arity = 1

    def as_sql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        table = column.rsplit(".", 1)[0]  # '"U0"."id"' -> '"U0"'
        return f"({table}.xmin::text || {table}.ctid::text)", params


def row_version(queryset: QuerySet) -> Coalesce:
    """Annotation: the version of the one row of `queryset` (filtered on an OuterRef), or NO_ROW. Where the
    row is reachable by a join, `joined_row_version` costs less to compile (with prepared statements
    PostgreSQL plans either once per connection)."""
    return Coalesce(
        Subquery(queryset.order_by().annotate(_version=RowVersion("pk")).values("_version")[:1]),
        Value(NO_ROW),
        output_field=TextField(),
    )


class JoinedRowVersion(RowVersion):
    """The version of the row joined through a column (see RowVersion), or NO_ROW when a LEFT JOIN found
    none. One expression rather than COALESCE(RowVersion, Value): a page's query compiles several per
    request."""

    def as_sql(self, compiler, connection, **extra_context):
        version, params = super().as_sql(compiler, connection, **extra_context)
        return f"COALESCE({version}, '{NO_ROW}')", params


def joined_row_version(column: str) -> JoinedRowVersion:
    """Annotation: the version of the row joined through `column` (see RowVersion), or NO_ROW."""
    return JoinedRowVersion(column)


class ReferencingRowsVersion(Func):
    """One short version for all the rows of `model` whose foreign key `field` points at the row a column
    belongs to (`ReferencingRowsVersion("pk", model=Payment, field="booking")`: a booking's payments), in id
    order; a row added, changed or removed changes it (no rows: the hash of '').

    The `rows_version` of a queryset filtered on that key, written from the model's metadata: the same
    subquery built by the ORM cost a page's query a sixth of its request to compile, every request."""

    output_field = TextField()
    arity = 1

    def __init__(self, column: str, *, model, field: str):
        super().__init__(column)
        self.rows_model, self.foreign_key = model, field

    def as_sql(self, compiler, connection, **extra_context):
        outer, params = compiler.compile(self.source_expressions[0])
        quote = connection.ops.quote_name
        meta = self.rows_model._meta
        rows = quote(f"{meta.db_table}_versions")
        # Identifiers only, from the model's metadata and quoted; the values are the outer column's.
        versions = f"{rows}.xmin::text || {rows}.ctid::text"
        order = f"{rows}.{quote(meta.pk.column)}"
        key = f"{rows}.{quote(meta.get_field(self.foreign_key).column)}"
        table = f"{quote(meta.db_table)} {rows}"
        sql = f"MD5(COALESCE((SELECT string_agg({versions}, ',' ORDER BY {order}) FROM {table} WHERE {key} = {outer}), ''))"  # noqa: S608
        return sql, params


def rows_version(queryset: QuerySet, *, also: Iterable[str] = ()) -> MD5:
    """Annotation: one short version for all the rows of `queryset` (filtered on an OuterRef), in id order,
    with the rows joined to each through the columns `also` (see RowVersion); a row added, changed or
    removed changes it (the hash of no rows is the hash of ''). For the rows that simply point at the outer
    row, `ReferencingRowsVersion` is the same version for a sixth of the compile cost."""
    parts = [RowVersion("pk")] + [joined_row_version(column) for column in also]
    version = parts[0] if len(parts) == 1 else Concat(*parts, output_field=TextField())
    versions = ArraySubquery(queryset.order_by("pk").annotate(_version=version).values("_version"))
    return MD5(Func(versions, Value(","), function="array_to_string", output_field=TextField()))


def representation_fingerprint(serializer_class, *, modules: Iterable = ()) -> str:
    """A short hash of what decides a representation: the serializer's declared fields (names, types,
    sources and options, as DRF describes them), the source of the modules that define it and of
    `modules` (helpers it delegates to, e.g. the one building `money`), the renderer, and DRF's version.
    Computed once per process; the same code gives the same fingerprint in every process."""
    digest = hashlib.sha256()
    digest.update(repr(serializer_class()).encode())
    sources = {sys.modules[cls.__module__] for cls in serializer_class.__mro__ if _ours(cls)}
    sources.update(modules)
    sources.add(sys.modules[CamelCaseJSONRenderer.__module__])
    for module in sorted(sources, key=lambda module: module.__name__):
        digest.update(module.__name__.encode())
        digest.update(inspect.getsource(module).encode())
    digest.update(rest_framework.VERSION.encode())
    return digest.hexdigest()[:16]


def _ours(cls) -> bool:
    return not cls.__module__.startswith(("rest_framework", "builtins"))


def enabled() -> bool:
    return settings.RENDERED_CACHE_SECONDS > 0


def render(data) -> bytes:
    """The bytes `CamelCaseJSONRenderer` writes for `data` in a response: what the cache keeps."""
    return CamelCaseJSONRenderer().render(data)


def store(renderings: dict[str, bytes]) -> None:
    """Keep each rendering under its key for `RENDERED_CACHE_SECONDS`."""
    if not renderings:
        return
    pipeline = redis_client.pipeline(transaction=False)
    for key, body in renderings.items():
        pipeline.set(cache.make_key(key), body, ex=settings.RENDERED_CACHE_SECONDS)
    pipeline.execute()


def rendered(
    keys: dict[int, str], build: Callable[[list[int]], dict[int, tuple[str, bytes]]]
) -> dict[int, bytes]:
    """The rendered representation of each row id in `keys` (id -> its cache key), from the cache, else
    from `build(missing ids)`, which returns id -> (key, rendering) for the rows that still exist, keyed by
    the versions it read with the data itself. Rows gone since `keys` was read are left out.

    The renderings are raw bytes on the process's redis-py client (`dumuwaks.core.cache`), in the cache's
    key space (its prefix; `cache.clear()` empties them): read twenty at a time on the hottest requests,
    where Django's cache API would build a new client per call and pickle every value."""
    ids = list(keys)
    stored = (
        redis_client.mget([cache.make_key(keys[pk]) for pk in ids]) if enabled() and ids else []
    )
    result = {pk: body for pk, body in zip(ids, stored, strict=False) if body is not None}
    missing = [pk for pk in ids if pk not in result]
    if missing:
        built = build(missing)
        if enabled():
            store(dict(built.values()))
        result.update((pk, body) for pk, (_key, body) in built.items())
    return result
