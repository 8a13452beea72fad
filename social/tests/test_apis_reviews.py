from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings.models import BookingStatus
from conftest import bearer_client
from social.models import Review
from social.services import reviews as review_services
from social.tasks import publish_due_reviews
from social.tests.factories import MediaAssetFactory, make_booking

pytestmark = pytest.mark.django_db

URL = "/api/v1/reviews"
ASPECTS = {"quality": 5, "timeliness": 4, "professionalism": 5, "communication": 4, "value": 3}


def customer_review(booking, overall=4, **extra):
    return {"bookingId": booking.id, "ratings": {**ASPECTS, "overall": overall}, **extra}


def profile_of(user):
    user.technician_profile.refresh_from_db()
    return user.technician_profile


@pytest.fixture
def booking(customer, technician):
    return make_booking(customer=customer, technician=technician)


def test_customer_review_is_blind_until_technician_reviews(
    customer_client, technician_client, other_customer_client, anon_client, booking, technician
):
    created = customer_client.post(
        URL, customer_review(booking, overall=4, comment="Quick and tidy")
    )

    assert created.status_code == 201, created.json()
    review = created.json()
    assert review["direction"] == "customer_to_technician"
    assert review["ratings"] == ASPECTS and review["overall"] == 4
    assert review["isPublished"] is False
    # Nobody but the author sees it yet, and it does not move the technician's rating.
    for client in (technician_client, other_customer_client, anon_client):
        assert client.get(f"{URL}/{review['id']}").status_code == 404
    assert anon_client.get(f"{URL}/technician/{technician.id}").json()["count"] == 0
    assert (profile_of(technician).rating_average, profile_of(technician).rating_count) == (0, 0)

    back = technician_client.post(URL, {"bookingId": booking.id, "ratings": {"overall": 5}})

    assert back.status_code == 201, back.json()
    assert back.json()["direction"] == "technician_to_customer"
    assert back.json()["isPublished"] is True
    assert technician_client.get(f"{URL}/{review['id']}").json()["isPublished"] is True
    assert anon_client.get(f"{URL}/technician/{technician.id}").json()["count"] == 1
    profile = profile_of(technician)
    assert (profile.rating_average, profile.rating_count) == (Decimal("4.00"), 1)


def test_review_becomes_visible_after_seven_days(customer_client, anon_client, booking, technician):
    review_id = customer_client.post(URL, customer_review(booking, overall=2)).json()["id"]

    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        assert anon_client.get(f"{URL}/{review_id}").status_code == 200
        assert publish_due_reviews.delay().get() == 1
        profile = profile_of(technician)
        assert (profile.rating_average, profile.rating_count) == (Decimal("2.00"), 1)
        assert Review.objects.get(pk=review_id).counted_at is not None
        assert publish_due_reviews.delay().get() == 0


def test_review_created_event_is_published(
    customer_client, booking, django_capture_on_commit_callbacks, domain_events
):
    with django_capture_on_commit_callbacks(execute=True):
        review_id = customer_client.post(URL, customer_review(booking)).json()["id"]

    assert domain_events == [("review.created", {"review_id": review_id})]


def test_failed_review_publishes_nothing(
    customer_client, customer, technician, django_capture_on_commit_callbacks, domain_events
):
    pending = make_booking(customer=customer, technician=technician, status=BookingStatus.PENDING)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        customer_client.post(URL, customer_review(pending))

    assert domain_events == [] and callbacks == []


@pytest.mark.parametrize(
    "status",
    [
        BookingStatus.PENDING,
        BookingStatus.ACCEPTED,
        BookingStatus.IN_PROGRESS,
        BookingStatus.COMPLETED,
        BookingStatus.CANCELLED,
        BookingStatus.DISPUTED,
    ],
)
def test_no_review_without_confirmed_booking(customer_client, customer, technician, status):
    booking = make_booking(customer=customer, technician=technician, status=status)

    response = customer_client.post(URL, customer_review(booking))

    assert response.status_code == 409
    assert response.json()["code"] == "booking_not_reviewable"
    assert not Review.objects.exists()


def test_resolved_booking_can_be_reviewed(customer_client, customer, technician):
    booking = make_booking(customer=customer, technician=technician, status=BookingStatus.RESOLVED)

    assert customer_client.post(URL, customer_review(booking)).status_code == 201


def test_outsider_cannot_review(other_customer_client, other_technician_client, booking):
    for client in (other_customer_client, other_technician_client):
        response = client.post(URL, customer_review(booking))
        assert response.status_code == 404
        assert response.json()["code"] == "booking_not_found"
    assert customer_review  # payload helper is shared
    assert not Review.objects.exists()


def test_no_second_review_per_side(customer_client, booking):
    assert customer_client.post(URL, customer_review(booking)).status_code == 201

    again = customer_client.post(URL, customer_review(booking, overall=1))

    assert again.status_code == 409
    assert again.json()["code"] == "already_reviewed"
    assert Review.objects.count() == 1


def test_customer_must_rate_the_four_required_aspects(customer_client, booking):
    response = customer_client.post(
        URL, {"bookingId": booking.id, "ratings": {"quality": 5, "value": 4, "overall": 5}}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "missing_aspect_ratings"
    assert sorted(response.json()["fields"]) == [
        "ratings.communication",
        "ratings.professionalism",
        "ratings.timeliness",
    ]
    assert not Review.objects.exists()


def test_the_original_clients_four_aspects_are_enough(customer_client, booking):
    four = {a: r for a, r in ASPECTS.items() if a != "value"}

    response = customer_client.post(URL, {"bookingId": booking.id, "ratings": four, "overall": 4})

    assert response.status_code == 201, response.json()
    assert response.json()["ratings"] == {**four, "value": None}
    assert Review.objects.get().value is None


def test_an_absent_aspect_is_left_out_of_its_average_not_counted_as_zero(anon_client, technician):
    four = {a: r for a, r in ASPECTS.items() if a != "value"}
    for i, ratings in enumerate([ASPECTS, four]):  # value 3, then no value
        customer = UserFactory(email=f"aspect{i}@example.co.ke")
        booking = make_booking(customer=customer, technician=technician)
        review_services.review_create(
            reviewer=customer, booking_id=booking.id, overall=4, ratings=ratings
        )
        review_services.review_create(reviewer=technician, booking_id=booking.id, overall=5)

    stats = anon_client.get(f"{URL}/technician/{technician.id}/stats").json()

    assert stats["count"] == 2
    assert stats["aspects"]["value"] == 3.0  # not (3 + 0) / 2
    assert stats["aspects"]["quality"] == 5.0


@pytest.mark.parametrize("bad", [0, 6, "five", None])
def test_ratings_out_of_range_are_rejected(customer_client, booking, bad):
    payload = customer_review(booking)
    payload["ratings"]["quality"] = bad
    if bad is None:
        payload["ratings"].pop("overall")

    response = customer_client.post(URL, payload)

    assert response.status_code == 400
    assert not Review.objects.exists()


def test_cannot_attach_someone_elses_media(customer_client, booking, other_customer, customer):
    mine = MediaAssetFactory(owner=customer)
    theirs = MediaAssetFactory(owner=other_customer)

    bad = customer_client.post(URL, customer_review(booking, mediaIds=[theirs.id]))
    good = customer_client.post(URL, customer_review(booking, mediaIds=[mine.id]))

    assert bad.status_code == 400 and bad.json()["code"] == "invalid_media"
    assert good.status_code == 201
    assert [m["id"] for m in good.json()["media"]] == [mine.id]


def _published_pair(customer_client, technician_client, booking, overall):
    review_id = customer_client.post(URL, customer_review(booking, overall=overall)).json()["id"]
    technician_client.post(URL, {"bookingId": booking.id, "ratings": {"overall": 4}})
    return review_id


def test_aggregates_follow_edit_and_delete(
    customer_client, technician_client, customer, technician, other_customer
):
    first = _published_pair(
        customer_client,
        technician_client,
        make_booking(customer=customer, technician=technician),
        5,
    )
    other_client = bearer_client(other_customer)
    second = _published_pair(
        other_client,
        technician_client,
        make_booking(customer=other_customer, technician=technician),
        2,
    )
    assert (profile_of(technician).rating_average, profile_of(technician).rating_count) == (
        Decimal("3.50"),
        2,
    )

    edited = other_client.patch(f"{URL}/{second}", {"overall": 3, "ratings": {"value": 1}})
    assert edited.status_code == 200
    assert edited.json()["ratings"]["value"] == 1 and edited.json()["editedAt"]
    assert profile_of(technician).rating_average == Decimal("4.00")

    assert customer_client.delete(f"{URL}/{first}").status_code == 204
    profile = profile_of(technician)
    assert (profile.rating_average, profile.rating_count) == (Decimal("3.00"), 1)

    assert other_client.delete(f"{URL}/{second}").status_code == 204
    profile = profile_of(technician)
    assert (profile.rating_average, profile.rating_count) == (Decimal("0.00"), 0)


def test_only_author_edits_or_deletes(
    customer_client, technician_client, other_customer_client, booking
):
    review_id = _published_pair(customer_client, technician_client, booking, 5)

    for client in (technician_client, other_customer_client):
        assert client.patch(f"{URL}/{review_id}", {"overall": 1}).status_code == 404
        assert client.delete(f"{URL}/{review_id}").status_code == 404
    assert Review.objects.get(pk=review_id).overall == 5


def test_reviewee_responds_once(customer_client, technician_client, other_customer_client, booking):
    review_id = customer_client.post(URL, customer_review(booking)).json()["id"]
    assert (
        technician_client.post(f"{URL}/{review_id}/respond", {"response": "Thanks"}).status_code
        == 404
    )

    technician_client.post(URL, {"bookingId": booking.id, "ratings": {"overall": 4}})
    first = technician_client.post(f"{URL}/{review_id}/respond", {"response": "Asante sana!"})
    second = technician_client.post(f"{URL}/{review_id}/respond", {"response": "Again"})
    outsider = other_customer_client.post(f"{URL}/{review_id}/respond", {"response": "Me too"})

    assert first.status_code == 200 and first.json()["response"] == "Asante sana!"
    assert second.status_code == 409 and second.json()["code"] == "already_responded"
    assert outsider.status_code == 404
    assert Review.objects.get(pk=review_id).response == "Asante sana!"


def test_stats_computed_from_published_reviews(
    anon_client, technician, technician_client, service_category
):
    for i, overall in enumerate([5, 5, 4, 2]):
        customer = UserFactory(email=f"c{i}@example.co.ke")
        booking = make_booking(customer=customer, technician=technician)
        review_services.review_create(
            reviewer=customer,
            booking_id=booking.id,
            overall=overall,
            ratings={**ASPECTS, "value": overall},
        )
        if i < 3:  # the fourth stays blind
            review_services.review_create(reviewer=technician, booking_id=booking.id, overall=5)

    response = anon_client.get(f"{URL}/technician/{technician.id}/stats")

    assert response.status_code == 200
    assert response.json() == {
        "technicianId": technician.id,
        "average": 4.67,
        "count": 3,
        "aspects": {
            "quality": 5.0,
            "timeliness": 4.0,
            "professionalism": 5.0,
            "communication": 4.0,
            "value": 4.67,
        },
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 2},
    }
    assert profile_of(technician).rating_count == 3
    assert anon_client.get(f"{URL}/technician/{technician.id}").json()["count"] == 3


def test_stats_for_unknown_or_non_technician_is_404(anon_client, customer):
    assert anon_client.get(f"{URL}/technician/{customer.id}/stats").status_code == 404
    assert anon_client.get(f"{URL}/technician/999999").status_code == 404


def test_staff_hiding_a_review_removes_it_from_aggregates(
    customer_client, technician_client, booking, technician, support_agent
):
    review_id = _published_pair(customer_client, technician_client, booking, 5)

    review_services.review_set_hidden(review_id=review_id, actor=support_agent, hidden=True)

    assert profile_of(technician).rating_count == 0
    assert technician_client.get(f"{URL}/{review_id}").status_code == 404
    assert customer_client.get(f"{URL}/{review_id}").status_code == 200  # the author still sees it


def test_booking_reviews_for_parties(
    customer_client, technician_client, other_customer_client, booking
):
    mine = customer_client.post(URL, customer_review(booking)).json()["id"]

    assert [
        r["id"] for r in customer_client.get(f"{URL}/booking/{booking.id}").json()["results"]
    ] == [mine]
    assert technician_client.get(f"{URL}/booking/{booking.id}").json()["results"] == []
    assert other_customer_client.get(f"{URL}/booking/{booking.id}").status_code == 404


def test_technician_list_runs_constant_queries(
    anon_client, technician, django_assert_max_num_queries
):
    for i in range(8):
        customer = UserFactory(email=f"q{i}@example.co.ke")
        booking = make_booking(customer=customer, technician=technician)
        media = MediaAssetFactory(owner=customer)
        review_services.review_create(
            reviewer=customer,
            booking_id=booking.id,
            overall=4,
            ratings=ASPECTS,
            media_ids=[media.id],
        )
        review_services.review_create(reviewer=technician, booking_id=booking.id, overall=5)

    with django_assert_max_num_queries(5) as small:
        anon_client.get(f"{URL}/technician/{technician.id}?pageSize=2")
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = anon_client.get(f"{URL}/technician/{technician.id}?pageSize=8")
    assert len(response.json()["results"]) == 8
    assert all(len(r["media"]) == 1 for r in response.json()["results"])
