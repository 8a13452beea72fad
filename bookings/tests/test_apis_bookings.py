"""Bookings through the HTTP API: create, list/filter/visibility, detail, edit, cancel, actions, disputes."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import TechnicianProfile
from accounts.tests.factories import CustomerFactory, ServiceCategoryFactory, TechnicianFactory
from bookings.models import Booking, BookingStatus, BookingStatusHistory, Dispute, DisputeStatus
from bookings.pricing import MIN_BOOKING_PRICE
from bookings.tests.factories import BookingFactory, DisputeFactory, TimeOffFactory
from conftest import bearer_client
from payments.tests.helpers import paid_payment
from tests.schema import openapi_schema

pytestmark = pytest.mark.django_db


def _future(hours=48):
    return (timezone.now() + timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)


def _create_payload(category, **overrides):
    payload = {
        "categoryId": category.pk,
        "title": "Install a water heater",
        "description": "Bathroom, 2nd floor",
        "urgency": "urgent",
        "address": "Westlands, Mpaka Rd",
        "county": "Nairobi",
        "latitude": -1.26,
        "longitude": 36.80,
        "scheduledStart": _future().isoformat(),
        "durationMinutes": 90,
        "price": "2499.50",
    }
    payload.update(overrides)
    return payload


def test_customer_creates_booking_with_a_technician(
    customer_client,
    customer,
    technician,
    service_category,
    django_capture_on_commit_callbacks,
    domain_events,
):
    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(
            "/api/v1/bookings", _create_payload(service_category, technicianId=technician.pk)
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    booking = Booking.objects.get(pk=body["id"])
    assert body["number"] == booking.number and booking.number.startswith("DW-")
    assert body["status"] == "pending"
    assert booking.customer == customer and booking.technician == technician
    # 2499.50 is rounded up to 2500; 20 % deposit; 15 % platform fee.
    assert (body["price"], body["depositAmount"], body["balanceAmount"]) == (
        "2500.00",
        "500.00",
        "2000.00",
    )
    assert (body["platformFee"], body["technicianShare"]) == ("375.00", "2125.00")
    assert body["durationMinutes"] == 90
    assert body["attachments"] == []
    assert booking.payment_due_at is not None
    assert list(
        BookingStatusHistory.objects.filter(booking=booking).values_list("to_status", flat=True)
    ) == ["pending"]
    assert domain_events == [("booking.created", {"booking_id": booking.pk})]


def test_booking_numbers_come_from_the_sequence(customer_client, service_category):
    numbers = []
    for hours in (48, 50):
        response = customer_client.post(
            "/api/v1/bookings",
            _create_payload(service_category, scheduledStart=_future(hours).isoformat()),
        )
        numbers.append(response.json()["number"])
    first, second = (int(n.rsplit("-", 1)[1]) for n in numbers)
    assert second == first + 1


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"scheduledStart": "2020-01-01T10:00:00+03:00"}, "scheduledStart"),
        ({"durationMinutes": 10}, "durationMinutes"),
        ({"price": "0"}, "price"),
        ({"categoryId": 999999}, "categoryId"),
        ({"technicianId": 999999}, "technicianId"),
        ({"urgency": "whenever"}, "urgency"),
        ({"latitude": 123}, "latitude"),
        ({"title": ""}, "title"),
    ],
)
def test_create_validation_errors(customer_client, service_category, override, field):
    response = customer_client.post(
        "/api/v1/bookings", _create_payload(service_category, **override)
    )
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not Booking.objects.exists()


@pytest.mark.parametrize("price", ["1.00", "2.00", "99.00", "99.99"])
def test_a_price_below_the_minimum_is_refused_and_nothing_is_written(
    customer_client, service_category, price, django_capture_on_commit_callbacks, domain_events
):
    """A KES 1-2 booking had a 0.00 deposit and could never proceed: below MIN_BOOKING_PRICE is a 400."""
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = customer_client.post(
            "/api/v1/bookings", _create_payload(service_category, price=price)
        )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["fields"] == {
        "price": ["The price must be at least KES 100 (a deposit of at least KES 20)."]
    }
    assert not Booking.objects.exists()
    assert not BookingStatusHistory.objects.exists()
    assert callbacks == [] and domain_events == []


def test_the_minimum_price_books_with_whole_exact_splits(customer_client, service_category):
    assert Decimal("100") == MIN_BOOKING_PRICE
    response = customer_client.post(
        "/api/v1/bookings", _create_payload(service_category, price="100")
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["price"], body["depositAmount"], body["balanceAmount"]) == (
        "100.00",
        "20.00",
        "80.00",
    )
    assert (body["platformFee"], body["technicianShare"]) == ("15.00", "85.00")


def test_the_schema_documents_the_minimum_price(anon_client):
    schema = anon_client.get("/api/schema/?format=json").json()
    price = schema["components"]["schemas"]["BookingCreateInputRequest"]["properties"]["price"]
    assert price["type"] == "string"  # a decimal string: the minimum is stated in words
    assert "at least KES 100" in price["description"]


def test_technician_cannot_create_bookings(technician_client, service_category):
    response = technician_client.post("/api/v1/bookings", _create_payload(service_category))
    assert response.status_code == 403
    assert response.json()["code"] == "customers_only"


def test_booking_a_technician_in_time_off_is_refused(customer_client, technician, service_category):
    start = _future()
    TimeOffFactory(
        technician=technician,
        starts_at=start - timedelta(hours=1),
        ends_at=start + timedelta(hours=5),
    )
    response = customer_client.post(
        "/api/v1/bookings",
        _create_payload(
            service_category, technicianId=technician.pk, scheduledStart=start.isoformat()
        ),
    )
    assert response.status_code == 409
    assert response.json()["code"] == "technician_unavailable"
    assert response.json()["reason"] == "time_off"
    assert not Booking.objects.exists()


def test_booking_an_overlapping_slot_is_slot_taken(customer_client, technician, service_category):
    existing = BookingFactory(
        technician=technician, scheduled_start=_future(), duration_minutes=120
    )
    response = customer_client.post(
        "/api/v1/bookings",
        _create_payload(
            service_category,
            technicianId=technician.pk,
            scheduledStart=(existing.scheduled_start + timedelta(minutes=30)).isoformat(),
        ),
    )
    assert response.status_code == 409
    assert response.json()["code"] == "slot_taken"
    assert Booking.objects.count() == 1


def test_list_shows_only_own_bookings(customer_client, customer, other_customer):
    mine = BookingFactory(customer=customer)
    BookingFactory(customer=other_customer)
    response = customer_client.get("/api/v1/bookings")
    assert response.status_code == 200
    assert [b["id"] for b in response.json()["results"]] == [mine.pk]


def test_technician_list_shows_assigned_and_available_filter(
    technician_client, technician, service_category
):
    assigned = BookingFactory(technician=technician)
    open_paid = BookingFactory(technician=None, deposit_paid=True)
    BookingFactory(technician=None, deposit_paid=False)  # not paid yet: not offered
    BookingFactory(
        technician=None, deposit_paid=True, category=ServiceCategoryFactory(slug="electrical")
    )
    BookingFactory()  # someone else's
    assert [b["id"] for b in technician_client.get("/api/v1/bookings").json()["results"]] == [
        assigned.pk
    ]
    response = technician_client.get("/api/v1/bookings?available=true")
    assert [b["id"] for b in response.json()["results"]] == [open_paid.pk]


def test_staff_list_all_with_filters_and_ordering(support_client):
    plumbing = ServiceCategoryFactory()
    electrical = ServiceCategoryFactory(slug="electrical")
    a = BookingFactory(category=plumbing, scheduled_start=_future(30), price=Decimal("1000"))
    b = BookingFactory(category=electrical, scheduled_start=_future(60), price=Decimal("5000"))
    c = BookingFactory(
        category=plumbing, status=BookingStatus.CANCELLED, scheduled_start=_future(90)
    )

    def ids(query):
        response = support_client.get(f"/api/v1/bookings{query}")
        assert response.status_code == 200, response.json()
        return [x["id"] for x in response.json()["results"]]

    assert ids("") == [c.pk, b.pk, a.pk]
    assert ids("?ordering=price") == [a.pk, c.pk, b.pk]
    assert ids("?status=pending") == [b.pk, a.pk]
    assert ids("?status=pending,cancelled&ordering=scheduledStart") == [a.pk, b.pk, c.pk]
    assert ids("?ordering=-scheduledStart") == [c.pk, b.pk, a.pk]
    assert ids(f"?category={plumbing.pk}") == [c.pk, a.pk]
    frm = (_future(45)).isoformat().replace("+", "%2B")
    to = (_future(80)).isoformat().replace("+", "%2B")
    assert ids(f"?from={frm}&to={to}") == [b.pk]
    bad = support_client.get("/api/v1/bookings?status=nonsense")
    assert bad.status_code == 400 and "status" in bad.json()["fields"]


@pytest.mark.parametrize("ordering", ["scheduled_start", "-created_at", "createdat", "password"])
def test_ordering_accepts_only_the_documented_camel_case_field_names(support_client, ordering):
    response = support_client.get(f"/api/v1/bookings?ordering={ordering}")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["ordering"]


def test_the_schema_lists_exactly_the_accepted_orderings(support_client):
    parameters = openapi_schema()["paths"]["/api/v1/bookings"]["get"]["parameters"]
    (documented,) = [p["schema"]["enum"] for p in parameters if p["name"] == "ordering"]
    assert documented == [
        "-createdAt", "-price", "-scheduledStart", "-status",
        "createdAt", "price", "scheduledStart", "status",
    ]  # fmt: skip
    for ordering in documented:
        assert support_client.get(f"/api/v1/bookings?ordering={ordering}").status_code == 200


@pytest.mark.parametrize("n", [1, 15])
@pytest.mark.parametrize("viewer", ["technician", "staff", "available"])
def test_technician_and_staff_lists_run_constant_queries(
    technician, technician_client, support_client, django_assert_max_num_queries, n, viewer
):
    if viewer == "available":
        BookingFactory.create_batch(n, technician=None, deposit_paid=True)
    else:
        BookingFactory.create_batch(n, technician=technician)
    client = support_client if viewer == "staff" else technician_client
    query = "?available=true&pageSize=100" if viewer == "available" else "?pageSize=100"
    # the user, the page's versions and total; not cached yet: the bookings and their payments
    with django_assert_max_num_queries(4):
        response = client.get(f"/api/v1/bookings{query}")
    assert response.json()["count"] == n


@pytest.mark.parametrize("n", [1, 15])
def test_list_runs_a_constant_number_of_queries(
    customer, customer_client, django_assert_max_num_queries, n
):
    BookingFactory.create_batch(n, customer=customer)
    with django_assert_max_num_queries(4):
        response = customer_client.get("/api/v1/bookings?pageSize=100")
    assert response.json()["count"] == n


@pytest.mark.parametrize("n", [1, 15])
def test_staff_dispute_queue_constant_queries(support_client, django_assert_max_num_queries, n):
    for _ in range(n):
        DisputeFactory()
    with django_assert_max_num_queries(5):
        response = support_client.get("/api/v1/bookings/disputes?pageSize=100")
    assert response.json()["count"] == n


def test_another_customers_booking_is_404_everywhere(other_customer_client, customer):
    booking = BookingFactory(customer=customer, deposit_paid=True)
    for method, suffix in [
        ("get", ""),
        ("patch", ""),
        ("delete", ""),
        ("get", "/history"),
        ("get", "/cancellation-quote"),
        ("post", "/confirm"),
        ("post", "/dispute"),
    ]:
        response = getattr(other_customer_client, method)(
            f"/api/v1/bookings/{booking.pk}{suffix}", {"reason": "x"}
        )
        assert response.status_code == 404, (method, suffix)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING


def test_unrelated_technician_gets_404(other_technician_client, technician):
    booking = BookingFactory(technician=technician, deposit_paid=True)
    assert other_technician_client.get(f"/api/v1/bookings/{booking.pk}").status_code == 404
    assert other_technician_client.post(f"/api/v1/bookings/{booking.pk}/accept").status_code == 404


def test_contact_details_reach_the_technician_only_while_active(
    customer, technician, technician_client
):
    booking = BookingFactory(customer=customer, technician=technician, deposit_paid=True)
    body = technician_client.get(f"/api/v1/bookings/{booking.pk}").json()
    assert body["customer"]["phoneNumber"] is None and body["customer"]["email"] is None
    technician_client.post(f"/api/v1/bookings/{booking.pk}/accept")
    body = technician_client.get(f"/api/v1/bookings/{booking.pk}").json()
    assert body["customer"]["phoneNumber"] == "+254712345678"
    assert body["customer"]["email"] == customer.email
    Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.COMPLETED)
    body = technician_client.get(f"/api/v1/bookings/{booking.pk}").json()
    assert body["customer"]["phoneNumber"] is None


def test_full_happy_path_through_the_api(customer, customer_client, technician, technician_client):
    booking = BookingFactory(customer=customer, technician=technician)
    url = f"/api/v1/bookings/{booking.pk}"
    response = technician_client.post(f"{url}/accept")
    assert response.status_code == 409 and response.json()["code"] == "deposit_not_paid"
    Booking.objects.filter(pk=booking.pk).update(deposit_paid_at=timezone.now())
    assert technician_client.post(f"{url}/accept").json()["status"] == "accepted"
    assert technician_client.post(f"{url}/en-route").json()["status"] == "en_route"
    assert technician_client.post(f"{url}/start").json()["status"] == "in_progress"
    response = technician_client.post(
        f"{url}/complete",
        {"completionNotes": "Replaced trap", "completionPhotos": [{"url": "https://x.test/p.jpg"}]},
    )
    assert response.status_code == 200
    assert response.json()["completionNotes"] == "Replaced trap"
    assert customer_client.post(f"{url}/confirm").json()["status"] == "confirmed"
    history = customer_client.get(f"{url}/history").json()["results"]
    assert [(h["fromStatus"], h["toStatus"]) for h in history] == [
        ("pending", "accepted"),
        ("accepted", "en_route"),
        ("en_route", "in_progress"),
        ("in_progress", "completed"),
        ("completed", "confirmed"),
    ]
    assert TechnicianProfile.objects.get(user=technician).jobs_completed == 1


def test_forbidden_action_is_409_invalid_transition(customer_client, customer):
    booking = BookingFactory(customer=customer, deposit_paid=True)
    response = customer_client.post(f"/api/v1/bookings/{booking.pk}/accept")
    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"
    response = customer_client.post(f"/api/v1/bookings/{booking.pk}/confirm")
    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"


def test_technician_takes_an_open_job(technician_client, technician):
    booking = BookingFactory(technician=None, deposit_paid=True)
    assert technician_client.get(f"/api/v1/bookings/{booking.pk}").status_code == 200
    response = technician_client.post(f"/api/v1/bookings/{booking.pk}/accept")
    assert response.status_code == 200
    assert response.json()["technician"]["id"] == technician.pk


def test_technician_declines_an_unpaid_request(technician_client, technician):
    booking = BookingFactory(technician=technician, deposit_paid=False)
    response = technician_client.post(f"/api/v1/bookings/{booking.pk}/decline")
    assert response.status_code == 200 and response.json()["technician"] is None
    assert technician_client.get(f"/api/v1/bookings/{booking.pk}").status_code == 404


def test_technician_declines(technician_client, technician):
    booking = BookingFactory(technician=technician, deposit_paid=True)
    response = technician_client.post(f"/api/v1/bookings/{booking.pk}/decline", {"note": "Too far"})
    assert response.status_code == 200
    assert response.json()["technician"] is None and response.json()["status"] == "pending"
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING and booking.technician_id is None


def test_customer_edits_and_reschedules(customer, customer_client, technician):
    booking = BookingFactory(customer=customer, technician=technician)
    new_start = booking.scheduled_start + timedelta(days=1)
    response = customer_client.patch(
        f"/api/v1/bookings/{booking.pk}",
        {"title": "New title", "scheduledStart": new_start.isoformat(), "durationMinutes": 120},
    )
    assert response.status_code == 200, response.json()
    booking.refresh_from_db()
    assert booking.title == "New title"
    assert booking.scheduled_start == new_start
    assert booking.scheduled_end == new_start + timedelta(minutes=120)


def test_reschedule_into_a_busy_slot_is_refused(customer, customer_client, technician):
    booking = BookingFactory(customer=customer, technician=technician)
    other = BookingFactory(technician=technician)
    response = customer_client.patch(
        f"/api/v1/bookings/{booking.pk}", {"scheduledStart": other.scheduled_start.isoformat()}
    )
    assert response.status_code == 409 and response.json()["code"] == "slot_taken"
    old = booking.scheduled_start
    booking.refresh_from_db()
    assert booking.scheduled_start == old


def test_put_requires_the_full_representation(customer, customer_client):
    booking = BookingFactory(customer=customer)
    response = customer_client.put(f"/api/v1/bookings/{booking.pk}", {"title": "Only title"})
    assert response.status_code == 400
    assert {"address", "scheduledStart", "durationMinutes"} <= set(response.json()["fields"])


def test_edit_refused_after_work_started(customer, customer_client):
    booking = BookingFactory(customer=customer, status=BookingStatus.EN_ROUTE)
    response = customer_client.patch(f"/api/v1/bookings/{booking.pk}", {"title": "x"})
    assert response.status_code == 409 and response.json()["code"] == "booking_not_editable"


def test_technician_cannot_edit(technician_client, technician):
    booking = BookingFactory(technician=technician)
    response = technician_client.patch(f"/api/v1/bookings/{booking.pk}", {"title": "x"})
    assert response.status_code == 409
    booking.refresh_from_db()
    assert booking.title != "x"


def test_cancel_quote_and_cancel_return_the_fee(customer, customer_client):
    booking = BookingFactory(
        customer=customer, deposit_paid=True, scheduled_start=timezone.now() + timedelta(hours=4)
    )
    quote = customer_client.get(f"/api/v1/bookings/{booking.pk}/cancellation-quote").json()
    assert (quote["fee"], quote["refund"], quote["tier"]) == ("300.00", "300.00", "under_6h")
    response = customer_client.delete(f"/api/v1/bookings/{booking.pk}", {"reason": "Plans changed"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["fee"], body["refund"]) == ("300.00", "300.00")
    assert body["booking"]["status"] == "cancelled"
    booking.refresh_from_db()
    assert booking.cancellation_fee == Decimal("300.00")
    assert booking.cancellation_reason == "Plans changed" and booking.cancelled_by == customer


def test_cancel_needs_a_reason(customer, customer_client):
    booking = BookingFactory(customer=customer)
    response = customer_client.delete(f"/api/v1/bookings/{booking.pk}")
    assert response.status_code == 400 and "reason" in response.json()["fields"]
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.PENDING


def test_cancel_reason_may_come_in_the_query(customer, customer_client):
    booking = BookingFactory(customer=customer)
    response = customer_client.delete(f"/api/v1/bookings/{booking.pk}?reason=No+longer+needed")
    assert response.status_code == 200


def test_stats_count_by_status_for_the_caller(customer, customer_client):
    BookingFactory.create_batch(2, customer=customer)
    BookingFactory(customer=customer, status=BookingStatus.CANCELLED)
    BookingFactory()
    body = customer_client.get("/api/v1/bookings/stats").json()
    assert body["total"] == 3
    counts = {row["status"]: row["count"] for row in body["byStatus"]}
    assert counts["pending"] == 2 and counts["cancelled"] == 1 and counts["confirmed"] == 0


def test_dispute_flow_through_the_api(
    customer,
    customer_client,
    support_client,
    technician,
    django_capture_on_commit_callbacks,
    domain_events,
):
    booking = BookingFactory(
        customer=customer,
        technician=technician,
        status=BookingStatus.COMPLETED,
        deposit_paid=True,
        completed_at=timezone.now(),
    )
    paid_payment(booking)  # the deposit, KES 600: the most a dispute can refund
    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(
            f"/api/v1/bookings/{booking.pk}/dispute",
            {
                "reason": "Still leaking",
                "evidence": [{"url": "https://x.test/leak.mp4", "type": "video"}],
            },
        )
    assert response.status_code == 201, response.json()
    dispute_id = response.json()["id"]
    assert response.json()["status"] == "open"
    booking.refresh_from_db()
    assert booking.status == BookingStatus.DISPUTED

    # The customer lists their own dispute (no internal notes); staff work the queue.
    mine = customer_client.get("/api/v1/bookings/disputes").json()["results"]
    assert [(d["id"], d["status"]) for d in mine] == [(dispute_id, "open")]
    queue = support_client.get("/api/v1/bookings/disputes?status=open").json()
    assert [d["id"] for d in queue["results"]] == [dispute_id]

    note = support_client.post(
        f"/api/v1/bookings/disputes/{dispute_id}/notes", {"body": "Called both"}
    )
    assert note.status_code == 201
    assert Dispute.objects.get(pk=dispute_id).status == DisputeStatus.UNDER_REVIEW

    bad = support_client.post(
        f"/api/v1/bookings/disputes/{dispute_id}/resolve", {"outcome": "partial_refund"}
    )
    assert bad.status_code == 400 and "refundAmount" in bad.json()["fields"]
    with django_capture_on_commit_callbacks(execute=True):
        response = support_client.post(
            f"/api/v1/bookings/disputes/{dispute_id}/resolve",
            {"outcome": "partial_refund", "refundAmount": "500", "notes": "Half the work redone"},
        )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["outcome"], body["refundAmount"]) == (
        "resolved",
        "partial_refund",
        "500.00",
    )
    assert body["notes"][0]["body"] == "Called both"
    booking.refresh_from_db()
    assert booking.status == BookingStatus.RESOLVED
    again = support_client.post(
        f"/api/v1/bookings/disputes/{dispute_id}/resolve", {"outcome": "full_refund"}
    )
    assert again.status_code == 409
    names = [name for name, _ in domain_events]
    assert names.count("dispute.opened") == 1 and names.count("dispute.resolved") == 1
    assert (
        "dispute.resolved",
        {"dispute_id": dispute_id, "booking_id": booking.pk},
    ) in domain_events


def test_dispute_window_closes_after_seven_days(customer, customer_client):
    booking = BookingFactory(
        customer=customer,
        status=BookingStatus.CONFIRMED,
        completed_at=timezone.now() - timedelta(days=7, minutes=1),
    )
    response = customer_client.post(f"/api/v1/bookings/{booking.pk}/dispute", {"reason": "Late"})
    assert response.status_code == 409 and response.json()["code"] == "dispute_window_closed"
    assert not Dispute.objects.exists()


def test_dispute_on_a_pending_booking_is_invalid(customer, customer_client):
    booking = BookingFactory(customer=customer)
    response = customer_client.post(f"/api/v1/bookings/{booking.pk}/dispute", {"reason": "x"})
    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"


def test_anonymous_is_401(anon_client):
    assert anon_client.get("/api/v1/bookings").status_code == 401


def test_customer_of_other_role_cannot_see_bookings_of_strangers():
    stranger = CustomerFactory()
    booking = BookingFactory()
    assert bearer_client(stranger).get(f"/api/v1/bookings/{booking.pk}").status_code == 404
    assert TechnicianFactory()  # sanity: factories usable here


def test_arrived_step_between_en_route_and_start(
    customer, customer_client, technician, technician_client
):
    booking = BookingFactory(
        customer=customer, technician=technician, deposit_paid=True, status=BookingStatus.EN_ROUTE
    )
    url = f"/api/v1/bookings/{booking.pk}"
    # Only the assigned technician marks arrival; the customer is refused and nothing changes.
    response = customer_client.post(f"{url}/arrived")
    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.EN_ROUTE
    response = technician_client.post(f"{url}/arrived", {"note": "At the gate"})
    assert response.status_code == 200 and response.json()["status"] == "arrived"
    # Arriving twice is a conflict, not a second history row.
    assert technician_client.post(f"{url}/arrived").status_code == 409
    assert technician_client.post(f"{url}/start").json()["status"] == "in_progress"
    history = customer_client.get(f"{url}/history").json()["results"]
    assert [(h["fromStatus"], h["toStatus"], h["note"]) for h in history] == [
        ("en_route", "arrived", "At the gate"),
        ("arrived", "in_progress", ""),
    ]


def test_arrived_only_from_en_route(technician, technician_client):
    for status in (BookingStatus.ACCEPTED, BookingStatus.IN_PROGRESS):
        booking = BookingFactory(technician=technician, deposit_paid=True, status=status)
        response = technician_client.post(f"/api/v1/bookings/{booking.pk}/arrived")
        assert response.status_code == 409 and response.json()["code"] == "invalid_transition"
        assert Booking.objects.get(pk=booking.pk).status == status
