"""GET /technicians/{id}: the public profile, for every persona; what it never shows; its query count;
its throttle; and the profile links in search and matching results."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import KycStatus, PortfolioItem, TechnicianProfile
from accounts.services.portfolio import portfolio_item_create, portfolio_item_moderate
from bookings.models import BookingStatus
from bookings.tests.factories import WeeklyAvailabilityFactory
from social.models import Review
from social.services.reviews import review_create, review_respond
from social.tests.factories import MediaAssetFactory, make_booking

pytestmark = pytest.mark.django_db

ALL_ASPECTS = ("quality", "timeliness", "professionalism", "communication", "value")


def _url(user):
    return f"/api/v1/technicians/{user.pk}"


def _published_review(*, customer, technician, overall=5, **ratings):
    booking = make_booking(customer=customer, technician=technician)
    review = review_create(
        reviewer=customer,
        booking_id=booking.pk,
        overall=overall,
        ratings={a: ratings.get(a, overall) for a in ALL_ASPECTS},
        comment="Good work.",
    )
    Review.objects.filter(pk=review.pk).update(visible_from=timezone.now() - timedelta(minutes=1))
    return review


@pytest.fixture
def rich_technician(technician, customer, other_customer, admin_user):
    """Bio, response time, two published reviews (one answered), two visible items and a hidden one."""
    TechnicianProfile.objects.filter(user=technician).update(
        bio="Fundi wa mabomba.", average_response_minutes=14, jobs_completed=7
    )
    first = _published_review(customer=customer, technician=technician, overall=5, value=3)
    review_respond(review_id=first.pk, actor=technician, response="Asante!")
    _published_review(customer=other_customer, technician=technician, overall=3, quality=2)
    for title in ("Sink", "Geyser"):
        portfolio_item_create(
            technician=technician,
            title=title,
            media_ids=[MediaAssetFactory(owner=technician).pk],
        )
    hidden = portfolio_item_create(technician=technician, title="Hidden")
    portfolio_item_moderate(item_id=hidden.pk, actor=admin_user, hidden=True)
    return technician


PERSONAS = [
    "anon_client",
    "customer_client",
    "technician_client",
    "other_technician_client",
    "support_client",
]


@pytest.mark.parametrize("client", PERSONAS)
def test_everyone_reads_the_same_public_profile(request, client, rich_technician):
    response = request.getfixturevalue(client).get(_url(rich_technician))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == rich_technician.pk
    assert body["fullName"] == "Kiprop Cheruiyot"
    assert body["handle"] == rich_technician.handle
    assert body["bio"] == "Fundi wa mabomba."
    assert [s["slug"] for s in body["skills"]] == ["plumbing"]
    assert body["serviceArea"] == {"county": "Nairobi", "radiusKm": 30}
    assert body["isKycVerified"] is True
    assert body["jobsCompleted"] == 7
    assert body["responseTimeMinutes"] == 14
    assert body["ratings"]["average"] == 4.0
    assert body["ratings"]["count"] == 2
    assert body["ratings"]["aspects"]["quality"] == 3.5
    assert body["ratings"]["aspects"]["value"] == 3.0
    assert body["ratings"]["distribution"] == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}
    reviews = body["recentReviews"]
    assert [r["overall"] for r in reviews] == [3, 5]
    assert reviews[1]["response"] == "Asante!"
    assert [p["title"] for p in body["portfolio"]] == ["Sink", "Geyser"]
    assert len(body["portfolio"][0]["media"]) == 1
    assert len(body["nextFreeSlots"]) == 5
    assert body["profileUrl"] == f"/api/v1/technicians/{rich_technician.pk}"


def test_never_shows_contacts_location_kyc_data_or_moderation(client, rich_technician):
    TechnicianProfile.objects.filter(user=rich_technician).update(
        national_id_number="12345678", id_document_url="https://example.com/id.jpg"
    )
    response = client.get(_url(rich_technician))
    text = response.content.decode()
    for secret in (
        rich_technician.email,
        "254733000222",
        "12345678",
        "id.jpg",
        "latitude",
        "kycStatus",
        "isHidden",
        'bookingId": null',
    ):
        assert secret not in text, secret
    assert "Hidden" not in [p["title"] for p in response.json()["portfolio"]]


def test_a_new_technician_shows_nulls_not_zeros(technician, anon_client):
    body = anon_client.get(_url(technician)).json()
    assert body["ratings"]["average"] is None
    assert body["ratings"]["count"] == 0
    assert set(body["ratings"]["aspects"].values()) == {None}
    assert body["responseTimeMinutes"] is None
    assert body["returnVisitRate"] is None  # fewer than 5 confirmed jobs: unknown
    assert body["recentReviews"] == []
    assert body["portfolio"] == []


def test_unapproved_kyc_shows_as_not_verified(technician, anon_client):
    TechnicianProfile.objects.filter(user=technician).update(kyc_status=KycStatus.PENDING)
    assert anon_client.get(_url(technician)).json()["isKycVerified"] is False


# A Wednesday noon in Nairobi: on a Monday morning this week's Monday slots are partly past.
@time_machine.travel(datetime(2026, 12, 9, 12, 0, tzinfo=ZoneInfo("Africa/Nairobi")), tick=False)
def test_next_free_slots_follow_working_hours_and_bookings(technician, customer, anon_client):
    WeeklyAvailabilityFactory(
        technician=technician, weekday=0, start_time="08:00", end_time="11:00"
    )
    slots = anon_client.get(_url(technician)).json()["nextFreeSlots"]
    assert len(slots) == 5
    starts = [timezone.datetime.fromisoformat(s["start"]) for s in slots]
    assert all(timezone.localtime(s).weekday() == 0 for s in starts)
    assert all(8 <= timezone.localtime(s).hour < 11 for s in starts)
    assert starts == sorted(starts)
    assert starts[0] > timezone.now()
    # The first free slot taken by an active booking disappears.
    make_booking(
        customer=customer,
        technician=technician,
        status=BookingStatus.ACCEPTED,
        scheduled_start=starts[0],
        scheduled_end=starts[0] + timedelta(hours=1),
    )
    again = anon_client.get(_url(technician)).json()["nextFreeSlots"]
    assert again[0]["start"] == slots[1]["start"]


@pytest.mark.parametrize("who", ["customer", "support_agent", "admin_user"])
def test_a_user_who_is_not_a_technician_is_404(request, anon_client, who):
    user = request.getfixturevalue(who)
    response = anon_client.get(_url(user))
    assert response.status_code == 404
    assert response.json() == {"code": "technician_not_found", "message": "Technician not found."}


@pytest.mark.parametrize("state", ["inactive", "deleted"])
def test_an_inactive_or_deleted_technician_is_404(technician, anon_client, state):
    if state == "inactive":
        technician.is_active = False
    else:
        technician.deleted_at = timezone.now()
    technician.save()
    assert anon_client.get(_url(technician)).status_code == 404
    assert anon_client.get("/api/v1/technicians/999999").status_code == 404


def test_profile_runs_a_fixed_number_of_queries(
    rich_technician, other_customer, customer_client, django_assert_num_queries
):
    # token user; profile+user; skills; portfolio; portfolio media; weekly hours; bookings; time off;
    # review aggregate; recent reviews; their media; return-visit rate
    with django_assert_num_queries(12):
        assert customer_client.get(_url(rich_technician)).status_code == 200
    for title in ("More", "And more"):
        portfolio_item_create(
            technician=rich_technician,
            title=title,
            media_ids=[MediaAssetFactory(owner=rich_technician).pk],
        )
    _published_review(customer=other_customer, technician=rich_technician)
    with django_assert_num_queries(12):
        assert customer_client.get(_url(rich_technician)).status_code == 200


def test_the_profile_is_throttled_per_caller(technician, anon_client, customer_client):
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "technician_profile": "2/min"}
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rates
    try:
        statuses = [anon_client.get(_url(technician)).status_code for _ in range(3)]
        other = customer_client.get(_url(technician)).status_code
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
    assert statuses == [200, 200, 429]
    assert other == 200


def test_users_detail_is_unchanged_for_others(customer_client, technician):
    """The seed's GET /users/{id} still serves only oneself and staff."""
    assert customer_client.get(f"/api/v1/users/{technician.pk}").status_code == 404


def test_search_results_link_to_the_profile(technician, anon_client):
    results = anon_client.get("/api/v1/users/technicians/search").json()["results"]
    assert results[0]["profileUrl"] == f"/api/v1/technicians/{technician.pk}"
    assert anon_client.get(results[0]["profileUrl"]).status_code == 200


def test_matching_results_link_to_the_profile(technician, customer_client, service_category):
    start = (timezone.localtime() + timedelta(days=3)).replace(hour=10, minute=0, second=0)
    response = customer_client.post(
        "/api/v1/matching/find-technicians",
        {
            "categoryId": service_category.pk,
            "scheduledStart": start.isoformat(),
            "latitude": -1.2921,
            "longitude": 36.8219,
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    [result] = response.json()["results"]
    assert result["technician"]["profileUrl"] == f"/api/v1/technicians/{technician.pk}"


def test_portfolio_item_counts_are_per_technician(technician, other_technician):
    portfolio_item_create(technician=other_technician, title="Theirs")
    assert PortfolioItem.objects.filter(profile__user=technician).count() == 0
