"""The OpenAPI document offers only what the server accepts, in one case convention, grouped by domain,
and lists every status code the server answers (issue 19 item 7).

Generic over the whole document, so a new endpoint is held to the same rules.
"""

from __future__ import annotations

import re

import pytest
from django.urls import resolve

from dumuwaks.core.openapi import DOMAIN_TAGS
from tests.schema import HTTP_METHODS, openapi_schema

CAMEL_NAME = re.compile(r"^[a-z][a-zA-Z0-9]*$")
CAMEL_ORDERING = re.compile(r"^-?[a-z][a-zA-Z0-9]*$")


def _operations():
    for path, item in openapi_schema()["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, operation


def _query_parameters(operation) -> dict[str, dict]:
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}


def test_every_operation_has_exactly_one_declared_domain_tag():
    declared = [tag for tags in DOMAIN_TAGS.values() for tag, _ in tags]
    untagged = {
        f"{method} {path}": operation.get("tags")
        for method, path, operation in _operations()
        if len(operation.get("tags") or []) != 1 or operation["tags"][0] not in declared
    }
    assert untagged == {}
    used = {operation["tags"][0] for _, _, operation in _operations()}
    assert sorted(used) == sorted(declared)  # no declared tag left empty
    assert "api" not in used


def test_the_document_declares_the_tags_grouped_by_domain():
    schema = openapi_schema()
    assert [tag["name"] for tag in schema["tags"]] == [
        tag for tags in DOMAIN_TAGS.values() for tag, _ in tags
    ]
    assert all(tag["description"] for tag in schema["tags"])
    assert schema["x-tagGroups"] == [
        {"name": domain, "tags": [tag for tag, _ in tags]} for domain, tags in DOMAIN_TAGS.items()
    ]


def _view_module(path: str) -> str:
    view = resolve(re.sub(r"\{[^}]+\}", "1", path)).func
    return getattr(view, "view_class", view).__module__


def test_the_bookings_apps_operations_are_tagged_bookings():
    tags = {
        f"{method} {path}": operation["tags"]
        for method, path, operation in _operations()
        if _view_module(path).startswith("bookings.")
    }
    assert len(tags) >= 20
    assert {tuple(t) for t in tags.values()} == {("bookings",)}


def test_every_query_parameter_name_is_camel_case():
    offenders = {
        f"{method} {path}": name
        for method, path, operation in _operations()
        for name in _query_parameters(operation)
        if not CAMEL_NAME.match(name)
    }
    assert offenders == {}


def test_every_ordering_parameter_lists_camel_case_field_names():
    orderings = {
        f"{method} {path}": parameter
        for method, path, operation in _operations()
        for name, parameter in _query_parameters(operation).items()
        if name == "ordering"
    }
    assert "GET /api/v1/bookings" in orderings
    for where, parameter in orderings.items():
        values = parameter["schema"].get("enum")
        assert values, f"{where}: ordering without an enum of accepted values"
        assert all(CAMEL_ORDERING.match(value) for value in values), (where, values)


def test_every_paginated_list_documents_the_404_for_a_page_past_the_end():
    paginated = [
        (method, path, operation)
        for method, path, operation in _operations()
        if "page" in _query_parameters(operation)
    ]
    assert len(paginated) >= 18
    missing = [
        f"{method} {path}"
        for method, path, operation in paginated
        if "404" not in operation["responses"]
    ]
    assert missing == []


@pytest.mark.django_db
def test_a_page_past_the_end_answers_the_documented_404(customer_client):
    response = customer_client.get("/api/v1/notifications?page=99")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Invalid page."}
    operation = openapi_schema()["paths"]["/api/v1/notifications"]["get"]
    assert "page" in operation["responses"]["404"]["description"]


@pytest.mark.django_db
def test_my_payouts_documents_its_page_parameters_and_the_404_it_answers(technician_client):
    """A page wrapped with totals is not recognised as a list by drf-spectacular: declared by hand."""
    response = technician_client.get("/api/v1/payments/payouts/my-payouts?page=99")
    assert response.status_code == 404
    operation = openapi_schema()["paths"]["/api/v1/payments/payouts/my-payouts"]["get"]
    assert {"page", "pageSize"} <= set(_query_parameters(operation))
    assert "page" in operation["responses"]["404"]["description"]
