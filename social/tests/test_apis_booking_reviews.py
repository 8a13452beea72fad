"""GET /api/v1/reviews/booking/{id}: who reads which reviews of a booking.

Support and admins: every review of any booking, blind and hidden ones included, each marked with its
`visibility`. The booking's parties: their own review and the other side's once published (unchanged).
Anyone else: 404, as for a booking that does not exist.
"""

import pytest

from social.models import Review
from social.services import reviews as review_services
from social.tests.factories import make_booking

pytestmark = pytest.mark.django_db

URL = "/api/v1/reviews/booking/{}"
ASPECTS = {"quality": 5, "timeliness": 4, "professionalism": 5, "communication": 4, "value": 3}
NOT_FOUND = {"code": "booking_not_found", "message": "Booking not found."}
STAFF = ["support_client", "admin_client_api"]


@pytest.fixture
def booking(customer, technician):
    return make_booking(customer=customer, technician=technician)


@pytest.fixture
def blind_review(booking, customer):
    """The customer reviewed; the technician has not: blind for 7 days."""
    return review_services.review_create(
        reviewer=customer, booking_id=booking.id, overall=2, ratings=ASPECTS, comment="Late"
    )


def _ids_and_visibility(response):
    return [(r["id"], r.get("visibility")) for r in response.json()["results"]]


@pytest.mark.parametrize("client_name", STAFF)
def test_staff_read_a_blind_review_marked_as_blind(request, client_name, booking, blind_review):
    response = request.getfixturevalue(client_name).get(URL.format(booking.id))
    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert (row["id"], row["visibility"], row["isPublished"]) == (blind_review.pk, "blind", False)
    assert (row["overall"], row["comment"]) == (2, "Late")


@pytest.mark.parametrize("client_name", STAFF)
def test_staff_read_published_and_hidden_reviews_marked(
    request, client_name, booking, blind_review, technician, support_agent
):
    back = review_services.review_create(reviewer=technician, booking_id=booking.id, overall=5)
    review_services.review_set_hidden(review_id=back.pk, actor=support_agent, hidden=True)
    response = request.getfixturevalue(client_name).get(URL.format(booking.id))
    assert response.status_code == 200
    assert _ids_and_visibility(response) == [(blind_review.pk, "published"), (back.pk, "hidden")]


@pytest.mark.parametrize("client_name", STAFF)
def test_staff_get_404_for_a_booking_that_does_not_exist(request, client_name):
    response = request.getfixturevalue(client_name).get(URL.format(999_999))
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize("client_name", STAFF)
def test_staff_read_a_booking_without_reviews(request, client_name, booking):
    response = request.getfixturevalue(client_name).get(URL.format(booking.id))
    assert (response.status_code, response.json()) == (200, {"results": []})


def test_parties_keep_their_rule_and_never_see_the_staff_marking(
    customer_client, technician_client, booking, blind_review, technician
):
    mine = customer_client.get(URL.format(booking.id))
    assert _ids_and_visibility(mine) == [(blind_review.pk, None)]
    assert "visibility" not in mine.json()["results"][0]
    assert technician_client.get(URL.format(booking.id)).json() == {"results": []}

    back = review_services.review_create(reviewer=technician, booking_id=booking.id, overall=5)
    for client in (customer_client, technician_client):
        rows = _ids_and_visibility(client.get(URL.format(booking.id)))
        assert rows == [(blind_review.pk, None), (back.pk, None)]


def test_a_party_does_not_see_the_other_sides_hidden_review(
    customer_client, technician_client, booking, blind_review, technician, support_agent
):
    back = review_services.review_create(reviewer=technician, booking_id=booking.id, overall=5)
    review_services.review_set_hidden(review_id=back.pk, actor=support_agent, hidden=True)
    assert _ids_and_visibility(customer_client.get(URL.format(booking.id))) == [
        (blind_review.pk, None)
    ]
    # Its author still reads it, as before.
    assert (back.pk, None) in _ids_and_visibility(technician_client.get(URL.format(booking.id)))


@pytest.mark.parametrize("client_name", ["other_customer_client", "other_technician_client"])
def test_outsiders_get_404_and_nothing_about_the_reviews(
    request, client_name, booking, blind_review
):
    response = request.getfixturevalue(client_name).get(URL.format(booking.id))
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_anonymous_gets_401(anon_client, booking, blind_review):
    response = anon_client.get(URL.format(booking.id))
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_staff_read_takes_a_fixed_number_of_queries(
    support_client, booking, blind_review, technician, django_assert_num_queries
):
    review_services.review_create(reviewer=technician, booking_id=booking.id, overall=5)
    assert Review.objects.filter(booking=booking).count() == 2
    # user (JWT), booking exists, reviews with reviewer/reviewee, their media
    with django_assert_num_queries(4):
        assert support_client.get(URL.format(booking.id)).status_code == 200
