"""Analytics numbers checked against hand-built bookings (Nairobi day boundaries matter)."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from accounts.models import TechnicianProfile
from bookings.models import Booking, BookingStatus
from bookings.tests.factories import BookingFactory, ServiceCategoryFactory
from conftest import make_technician
from support.analytics import selectors

pytestmark = pytest.mark.django_db

NBO = ZoneInfo("Africa/Nairobi")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NBO)


@pytest.fixture
def data(customer):
    plumbing = ServiceCategoryFactory(slug="plumbing")
    electrical = ServiceCategoryFactory(slug="electrical")
    t1 = make_technician(
        email="t1@example.co.ke", phone_number="+254711111111", first_name="Otieno"
    )
    t2 = make_technician(email="t2@example.co.ke", phone_number="+254722222222", first_name="Njeri")
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
            "cancelledJobs",
            "completionRate",
            "averageResponseMinutes",
            "earnings",
            "rating",
            "ratingCount",
        )
    } == {
        "jobs": 2,
        "completedJobs": 1,
        "cancelledJobs": 1,
        "completionRate": 50.0,
        "averageResponseMinutes": 60.0,
        "earnings": "2550.00",
        "rating": "4.50",
        "ratingCount": 8,
    }
    assert second["technicianId"] == data["t2"].pk
    assert (second["jobs"], second["completionRate"], second["averageResponseMinutes"]) == (
        1,
        100.0,
        None,
    )
    by_rate = admin_client_api.get(url + "&ordering=-completionRate").json()["results"]
    assert [r["technicianId"] for r in by_rate] == [data["t2"].pk, data["t1"].pk]
    by_rating = admin_client_api.get(url + "&ordering=rating").json()["results"]
    assert [r["technicianId"] for r in by_rating] == [data["t1"].pk, data["t2"].pk]
    assert admin_client_api.get(url + "&ordering=password").status_code == 400


def test_technician_list_constant_queries(data, admin_client_api, django_assert_max_num_queries):
    for i in range(3):
        make_technician(email=f"extra{i}@example.co.ke", phone_number=f"+25473333333{i}")
    for size in (1, 5):
        with django_assert_max_num_queries(4):
            body = admin_client_api.get(f"/api/v1/analytics/technicians?pageSize={size}").json()
        assert len(body["results"]) == size


def test_revenue_from_confirmed_bookings_when_payments_absent(data, admin_client_api, monkeypatch):
    monkeypatch.setattr(selectors, "_payments_available", lambda: False)
    body = admin_client_api.get("/api/v1/analytics/revenue?period=month").json()
    assert body["source"] == "bookings_estimate"
    assert body["totals"] == {
        "grossBookingValue": "3000.00",
        "depositsCollected": "600.00",
        "balancesCollected": "2400.00",
        "platformFees": "450.00",
        "payouts": "2550.00",
    }
    assert [p["periodStart"] for p in body["periods"]] == ["2026-11-01"]
    empty = admin_client_api.get("/api/v1/analytics/revenue?from=2026-11-22&to=2026-11-30").json()
    assert empty["periods"] == [] and empty["totals"]["grossBookingValue"] == "0.00"


@pytest.mark.parametrize(
    "query",
    ["?from=2026-11-22&to=2026-11-20", "?from=20-11-2026", "?period=year"],
)
def test_analytics_bad_filters_are_400(admin_client_api, query):
    response = admin_client_api.get("/api/v1/analytics/revenue" + query)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize("path", ["bookings", "revenue", "technicians"])
def test_analytics_is_staff_only(path, customer_client, technician_client, anon_client):
    assert customer_client.get(f"/api/v1/analytics/{path}").status_code == 403
    assert technician_client.get(f"/api/v1/analytics/{path}").status_code == 403
    assert anon_client.get(f"/api/v1/analytics/{path}").status_code == 401


def test_revenue_from_payments_ledger_and_payouts(customer, technician, admin_client_api):
    """Real money flow: deposit + balance paid through payments' success path, escrow released on
    confirmation (platform fee into the ledger), and one paid payout."""
    import time_machine
    from django.db import transaction

    from payments.models import Payment, PaymentPurpose, PaymentStatus, Payout, PayoutStatus
    from payments.services.common import lock_booking, lock_payment
    from payments.services.payments import payment_mark_succeeded

    def pay(booking, purpose):
        amount = (
            booking.deposit_amount if purpose == PaymentPurpose.DEPOSIT else booking.balance_amount
        )
        payment = Payment.objects.create(
            booking=booking,
            payer=customer,
            purpose=purpose,
            amount=amount,
            phone=customer.phone_number,
            status=PaymentStatus.PENDING,
        )
        with transaction.atomic():
            payment_mark_succeeded(
                booking=lock_booking(booking.pk), payment=lock_payment(payment.pk)
            )

    with time_machine.travel(_at("2026-11-02 10:00"), tick=False):
        booking = BookingFactory(customer=customer, technician=technician, price=Decimal("5000"))
        pay(booking, PaymentPurpose.DEPOSIT)  # deposit 1000
    Booking.objects.filter(pk=booking.pk).update(
        status=BookingStatus.CONFIRMED, confirmed_at=_at("2026-11-10 09:00")
    )
    booking.refresh_from_db()
    with time_machine.travel(_at("2026-11-10 09:00"), tick=False):
        pay(booking, PaymentPurpose.BALANCE)  # balance 4000 → escrow full → release, fee 750
    Payout.objects.create(
        kind=Payout._meta.get_field("kind").choices[0][0],
        booking=booking,
        recipient=technician,
        phone=technician.phone_number,
        amount=Decimal("4250"),
        status=PayoutStatus.PAID,
        paid_at=_at("2026-12-01 08:00"),
    )

    body = admin_client_api.get("/api/v1/analytics/revenue?period=month").json()
    assert body["source"] == "payments"
    assert body["totals"] == {
        "grossBookingValue": "5000.00",
        "depositsCollected": "1000.00",
        "balancesCollected": "4000.00",
        "platformFees": "750.00",
        "payouts": "4250.00",
    }
    assert [(p["periodStart"], p["platformFees"], p["payouts"]) for p in body["periods"]] == [
        ("2026-11-01", "750.00", "0.00"),
        ("2026-12-01", "0.00", "4250.00"),
    ]
    weekly = admin_client_api.get(
        "/api/v1/analytics/revenue?period=week&from=2026-11-01&to=2026-11-30"
    ).json()
    # Monday-based weeks in Nairobi: 2 Nov 2026 is a Monday, 10 Nov falls in the week of 9 Nov.
    assert [
        (p["periodStart"], p["depositsCollected"], p["balancesCollected"])
        for p in weekly["periods"]
    ] == [
        ("2026-11-02", "1000.00", "0.00"),
        ("2026-11-09", "0.00", "4000.00"),
    ]
