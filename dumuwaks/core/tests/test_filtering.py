"""List filters are django-filter FilterSets applied by the selectors (dumuwaks.core.filtering): invalid values
are a 400 naming the camelCase parameter, and the schema documents every filter of every FilterSet."""

import pytest
from drf_spectacular.generators import EndpointEnumerator

from dumuwaks.core.filtering import FilterSetInSelector, wire_name
from notifications.filters import NotificationFilter
from tests.schema import openapi_schema


def test_wire_names_are_camel_case_and_keywords_lose_their_underscore():
    assert wire_name("assigned_to") == "assignedTo"
    assert wire_name("radius_km") == "radiusKm"
    assert wire_name("from_") == "from"
    assert wire_name("status") == "status"


@pytest.mark.parametrize(
    ("value", "is_read"),
    [("true", False), ("1", False), ("True", False), ("false", True), ("0", True)],
)
def test_boolean_filters_take_drf_spellings(value, is_read, db):
    filterset = NotificationFilter(data={"unread": value})
    assert filterset.is_valid()
    assert filterset.form.cleaned_data["unread"] is (not is_read)


CASES = [
    # (client fixture, path, bad query, parameter named in `fields`)
    ("support_client", "/api/v1/support/tickets", "assignedTo=someone", "assignedTo"),
    ("support_client", "/api/v1/support/tickets", "status=nope", "status"),
    ("customer_client", "/api/v1/notifications", "unread=maybe", "unread"),
    ("customer_client", "/api/v1/notifications", "group=nope", "group"),
    ("customer_client", "/api/v1/conversations", "kind=nope", "kind"),
    ("customer_client", "/api/v1/matching/my-matches", "status=nope", "status"),
    ("customer_client", "/api/v1/posts", "author=0", "author"),
    ("customer_client", "/api/v1/posts", "author=1.5", "author"),
    ("customer_client", "/api/v1/posts", "hashtag=" + "x" * 66, "hashtag"),
    ("support_client", "/api/v1/posts/reports", "status=nope", "status"),
    ("admin_client_api", "/api/v1/users", "kycStatus=nope", "kycStatus"),
    ("admin_client_api", "/api/v1/users", "isActive=maybe", "isActive"),
    ("admin_client_api", "/api/v1/users", "role=nope", "role"),
    ("anon_client", "/api/v1/users/technicians/search", "radiusKm=1000", "radiusKm"),
    ("anon_client", "/api/v1/users/technicians/search", "lat=1", "lat"),
    ("anon_client", "/api/v1/users/technicians/search", "skill=a%20b", "skill"),
    ("anon_client", "/api/v1/users/technicians/search", "minRating=6", "minRating"),
    ("customer_client", "/api/v1/payments/transactions", "booking=abc", "booking"),
    ("customer_client", "/api/v1/payments/transactions", "type=refund", "type"),
    ("admin_client_api", "/api/v1/payments/payouts/pending", "status=nope", "status"),
    ("support_client", "/api/v1/bookings/disputes", "status=nope", "status"),
    ("customer_client", "/api/v1/bookings/disputes", "status=nope", "status"),
    ("support_client", "/api/v1/bookings", "status=pending,nope", "status"),
    ("customer_client", "/api/v1/bookings", "category=abc", "category"),
    ("customer_client", "/api/v1/bookings", "category=0", "category"),
    ("customer_client", "/api/v1/bookings", "from=garbage", "from"),
    ("customer_client", "/api/v1/bookings", "from=0001-01-01", "from"),
    ("customer_client", "/api/v1/bookings", "to=9999-12-31", "to"),
    ("technician_client", "/api/v1/bookings", "available=maybe", "available"),
    ("customer_client", "/api/v1/bookings", "ordering=scheduled_start", "ordering"),
]


@pytest.mark.parametrize(("client", "path", "query", "parameter"), CASES)
def test_an_invalid_filter_value_is_a_400_naming_the_parameter(
    db, request, client, path, query, parameter
):
    response = request.getfixturevalue(client).get(f"{path}?{query}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert list(body["fields"]) == [parameter]


@pytest.mark.parametrize(("client", "path", "query", "parameter"), CASES)
def test_an_empty_filter_value_means_no_filter(db, request, client, path, query, parameter):
    response = request.getfixturevalue(client).get(f"{path}?{parameter}=")
    assert response.status_code == 200, response.content


def _filtered_operations():
    for path, _regex, method, callback in EndpointEnumerator().get_api_endpoints():
        view = callback.cls
        if getattr(view, "filterset_class", None) is not None:
            yield path, method.lower(), view


def test_every_filterset_is_applied_by_a_selector_and_documented():
    operations = list(_filtered_operations())
    assert len(operations) >= 10
    schema = openapi_schema()
    for path, method, view in operations:
        assert view.filter_backends == [FilterSetInSelector], view
        if method != "get":
            continue
        documented = {
            p["name"]: p for p in schema["paths"][path][method]["parameters"] if p["in"] == "query"
        }
        assert set(view.filterset_class.base_filters) <= set(documented), path
        for name, filter_ in view.filterset_class.base_filters.items():
            help_text = filter_.extra.get("help_text")
            if help_text:
                description = documented[name].get("description", "")
                assert description.startswith(str(help_text)), (path, name, description)
