"""Analytics numbers checked against hand-built bookings (Nairobi day boundaries matter)."""

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import TechnicianProfile
from accounts.tests.factories import ServiceCategoryFactory, TechnicianFactory
from bookings.models import Booking, BookingStatus
from bookings.tests.factories import BookingFactory
from support.analytics.definitions import BOOKING_FIGURES, REVENUE_LINES, TECHNICIAN_FIGURES
from tests.schema import openapi_schema

pytestmark = pytest.mark.django_db

NBO = ZoneInfo("Africa/Nairobi")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NBO)


@pytest.fixture
def data(customer):
    plumbing = ServiceCategoryFactory(slug="plumbing")
    electrical = ServiceCategoryFactory(slug="electrical")
    t1 = TechnicianFactory(
        skill=False, email="t1@example.co.ke", phone_number="+254711111111", first_name="Otieno"
    )
    t2 = TechnicianFactory(
        skill=False, email="t2@example.co.ke", phone_number="+254722222222", first_name="Njeri"
    )
    TechnicianProfile.objects.filter(user=t1).update(rating_average=Decimal("4.50"), rating_count=8)
    TechnicianProfile.objects.filter(user=t2).update(rating_average=Decimal("4.90"), rating_count=3)

    def booking(*, category, price, status, created, technician, accepted_after=None, **extra):
        row = BookingFactory(
            customer=customer,
            technician=technician,
            category=category,
            price=Decimal(price),
            status=status,
            **extra,
        )
        created_at = _at(created)
        Booking.objects.filter(pk=row.pk).update(
            created_at=created_at,
            accepted_at=created_at + accepted_after if accepted_after else None,
        )
        return row

    b1 = booking(
        category=plumbing,
        price="3000",
        status=BookingStatus.CONFIRMED,
        created="2026-11-20 10:00",
        technician=t1,
        accepted_after=timedelta(minutes=30),
        confirmed_at=_at("2026-11-21 12:00"),
    )
    # 23:30 Nairobi is 20:30 UTC: still the 20th in both zones.
    b2 = booking(
        category=plumbing,
        price="5000",
        status=BookingStatus.CANCELLED,
        created="2026-11-20 23:30",
        technician=t1,
        accepted_after=timedelta(minutes=90),
        cancelled_by=customer,
    )
    # 00:30 Nairobi on the 21st is 21:30 UTC on the 20th: must count on the 21st.
    b3 = booking(
        category=electrical,
        price="2000",
        status=BookingStatus.COMPLETED,
        created="2026-11-21 00:30",
        technician=t2,
    )
    b4 = booking(
        category=electrical,
        price="4000",
        status=BookingStatus.PENDING,
        created="2026-11-25 09:00",
        technician=None,
    )
    return {"t1": t1, "t2": t2, "bookings": (b1, b2, b3, b4)}


def test_bookings_analytics_by_status_category_and_nairobi_day(data, admin_client_api):
    response = admin_client_api.get("/api/v1/analytics/bookings?from=2026-11-20&to=2026-11-22")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["total"] == 3
    assert body["grossValue"] == "10000.00"
    assert body["byStatus"] == [
        {"status": "cancelled", "count": 1, "grossValue": "5000.00"},
        {"status": "completed", "count": 1, "grossValue": "2000.00"},
        {"status": "confirmed", "count": 1, "grossValue": "3000.00"},
    ]
    assert [(c["slug"], c["count"], c["grossValue"]) for c in body["byCategory"]] == [
        ("plumbing", 2, "8000.00"),
        ("electrical", 1, "2000.00"),
    ]
    assert body["byDay"] == [
        {"date": "2026-11-20", "count": 2, "grossValue": "8000.00"},
        {"date": "2026-11-21", "count": 1, "grossValue": "2000.00"},
    ]
    everything = admin_client_api.get("/api/v1/analytics/bookings").json()
    assert everything["total"] == 4


def test_bookings_analytics_one_nairobi_day(data, support_client):
    body = support_client.get("/api/v1/analytics/bookings?from=2026-11-21&to=2026-11-21").json()
    assert body["total"] == 1
    assert body["byStatus"][0]["status"] == "completed"


def test_technician_performance(data, admin_client_api):
    url = "/api/v1/analytics/technicians?from=2026-11-20&to=2026-11-22"
    body = admin_client_api.get(url).json()
    assert body["count"] == 2
    first, second = body["results"]
    assert first["technicianId"] == data["t1"].pk
    assert {
        k: first[k]
        for k in (
            "jobs",
            "completedJobs",
            "technicianCancellations",
            "customerCancellations",
            "declinesAfterAccept",
            "completionRate",
            "averageResponseMinutes",
            "earnings",
            "owed",
            "rating",
            "ratingCount",
        )
    } == {
        "jobs": 2,
        "completedJobs": 1,
        # b2 was cancelled by the customer: shown, not held against the technician.
        "technicianCancellations": 0,
        "customerCancellations": 1,
        "declinesAfterAccept": 0,
        "completionRate": 100.0,
        "averageResponseMinutes": 60.0,
        # Bookings set to confirmed by hand moved no money: earnings come from the ledger only.
        "earnings": "0.00",
        "owed": "0.00",
        "rating": "4.50",
        "ratingCount": 8,
    }
    assert second["technicianId"] == data["t2"].pk
    assert (second["jobs"], second["completionRate"], second["averageResponseMinutes"]) == (
        1,
        100.0,
        None,
    )
    by_rating = admin_client_api.get(url + "&ordering=rating").json()["results"]
    assert [r["technicianId"] for r in by_rating] == [data["t1"].pk, data["t2"].pk]
    by_response = admin_client_api.get(url + "&ordering=averageResponseMinutes").json()
    assert [r["technicianId"] for r in by_response["results"]] == [data["t1"].pk, data["t2"].pk]
    assert admin_client_api.get(url + "&ordering=password").status_code == 400


def test_technician_list_constant_queries(data, admin_client_api, django_assert_num_queries):
    for i in range(3):
        TechnicianFactory(
            skill=False, email=f"extra{i}@example.co.ke", phone_number=f"+25473333333{i}"
        )
    with CaptureQueriesContext(connection) as first:
        admin_client_api.get("/api/v1/analytics/technicians?pageSize=1")
    for size in (1, 5):
        with django_assert_num_queries(len(first.captured_queries)):
            body = admin_client_api.get(f"/api/v1/analytics/technicians?pageSize={size}").json()
        assert len(body["results"]) == size


def test_bookings_constant_queries(data, admin_client_api, django_assert_num_queries):
    with CaptureQueriesContext(connection) as first:
        admin_client_api.get("/api/v1/analytics/bookings?from=2026-11-21&to=2026-11-21")
    for i in range(4):
        BookingFactory(category=ServiceCategoryFactory(slug=f"extra-{i}"), technician=None)
    with django_assert_num_queries(len(first.captured_queries)):
        body = admin_client_api.get("/api/v1/analytics/bookings").json()
    assert body["total"] == 8


def test_revenue_with_no_money_moved_is_empty_not_estimated(data, admin_client_api):
    """Bookings marked confirmed without payments moved no money: nothing is estimated from prices."""
    body = admin_client_api.get("/api/v1/analytics/revenue?period=month").json()
    assert body["periods"] == []
    assert set(body["totals"].values()) == {"0.00"}
    assert "source" not in body


@pytest.mark.parametrize(
    "query",
    ["?from=2026-11-22&to=2026-11-20", "?from=20-11-2026", "?period=year"],
)
def test_analytics_bad_filters_are_400(admin_client_api, query):
    response = admin_client_api.get("/api/v1/analytics/revenue" + query)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


PERSONAS = {
    "anon_client": (401, "not_authenticated"),
    "customer_client": (403, "permission_denied"),
    "other_customer_client": (403, "permission_denied"),
    "technician_client": (403, "permission_denied"),
    "other_technician_client": (403, "permission_denied"),
    "support_client": (200, None),
    "admin_client_api": (200, None),
}


@pytest.mark.parametrize("path", ["bookings", "revenue", "technicians"])
@pytest.mark.parametrize(("persona", "expected"), PERSONAS.items())
def test_who_may_see_which_analytics(
    request, path, persona, expected, django_assert_max_num_queries
):
    """Staff (support agents and admins) see every analytics figure; nobody else sees any. A refusal
    computes nothing: at most the authentication lookups run."""
    client = request.getfixturevalue(persona)
    status, code = expected
    if status == 200:
        response = client.get(f"/api/v1/analytics/{path}")
    else:
        with django_assert_max_num_queries(2):
            response = client.get(f"/api/v1/analytics/{path}")
    assert response.status_code == status
    if code:
        assert response.json()["code"] == code
        assert set(response.json()) == {"code", "message"}


def _schema_properties(component: str) -> dict:
    return openapi_schema()["components"]["schemas"][component]["properties"]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@pytest.mark.parametrize(
    ("component", "figures"),
    [
        ("AnalyticsBookingsOutput", BOOKING_FIGURES),
        ("AnalyticsRevenueAmounts", REVENUE_LINES),
        ("AnalyticsRevenuePeriod", REVENUE_LINES),
        ("AnalyticsTechnicianOutput", TECHNICIAN_FIGURES),
    ],
)
def test_every_figure_is_described_in_the_schema(component, figures):
    properties = _schema_properties(component)
    for name, definition in figures.items():
        assert properties[_camel(name)]["description"] == definition, name
    figures_in_schema = {
        key
        for key, value in properties.items()
        if value.get("type") in ("integer", "number", "string", "array")
        and key not in ("technicianId", "firstName", "lastName", "county", "dateFrom", "dateTo")
        and key != "periodStart"
    }
    assert figures_in_schema <= {_camel(name) for name in figures}


def test_every_figure_is_defined_in_the_readme():
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    section = readme.split("## Analytics", 1)[1].split("\n## ", 1)[0]
    for figures in (BOOKING_FIGURES, REVENUE_LINES, TECHNICIAN_FIGURES):
        for name in figures:
            assert f"`{_camel(name)}`" in section, name
