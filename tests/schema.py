"""The API's OpenAPI document, generated in-process (no HTTP round trip) and cached per test session."""

from __future__ import annotations

from functools import lru_cache

from drf_spectacular.generators import SchemaGenerator

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@lru_cache(maxsize=1)
def openapi_schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def schema_operations() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in openapi_schema()["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
