"""Portfolio API: the technician's own items (create, edit, reorder, delete), staff hiding, per persona."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import PortfolioItem, PortfolioItemMedia
from accounts.services.portfolio import portfolio_item_moderate
from bookings.models import BookingStatus
from social.tests.factories import MediaAssetFactory, make_booking

pytestmark = pytest.mark.django_db

MINE = "/api/v1/users/me/portfolio"


def _create(client, **body):
    return client.post(MINE, {"title": "Geyser fitted", **body}, format="json")


@pytest.fixture
def item(technician_client):
    response = _create(technician_client, description="Fitted a 100 l geyser.")
    assert response.status_code == 201, response.json()
    return PortfolioItem.objects.get(pk=response.json()["id"])


class TestCreate:
    def test_full_item_with_own_media_category_and_completed_booking(
        self, technician, customer, technician_client, service_category
    ):
        photos = [MediaAssetFactory(owner=technician) for _ in range(2)]
        booking = make_booking(customer=customer, technician=technician)
        response = _create(
            technician_client,
            description="  Kitchen sink.  ",
            categoryId=service_category.pk,
            mediaIds=[photos[1].pk, photos[0].pk],
            completedOn=str(timezone.localdate()),
            bookingId=booking.pk,
        )

        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["title"] == "Geyser fitted"
        assert body["description"] == "Kitchen sink."
        assert body["category"] == {
            "id": service_category.pk,
            "slug": "plumbing",
            "name": "Plumbing",
        }
        assert [m["id"] for m in body["media"]] == [photos[1].pk, photos[0].pk]
        assert body["isVerifiedJob"] is True
        assert body["bookingId"] == booking.pk
        assert body["position"] == 0
        assert body["isHidden"] is False
        assert _create(technician_client).json()["position"] == 1

    def test_minimal_item(self, technician_client):
        body = _create(technician_client).json()
        assert body["category"] is None
        assert body["media"] == []
        assert body["completedOn"] is None
        assert body["isVerifiedJob"] is False
        assert body["bookingId"] is None

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"title": ""}, "title"),
            ({"title": "x" * 121}, "title"),
            ({"categoryId": 999999}, "categoryId"),
            ({"completedOn": "2999-01-01"}, "completedOn"),
            ({"completedOn": "yesterday"}, "completedOn"),
            ({"mediaIds": [999999]}, "mediaIds"),
            ({"mediaIds": "1"}, "mediaIds"),
            ({"bookingId": 999999}, "bookingId"),
        ],
    )
    def test_bad_input_is_400_with_the_field_and_nothing_written(
        self, technician_client, body, field
    ):
        response = technician_client.post(MINE, {"title": "Geyser", **body}, format="json")
        assert response.status_code == 400
        assert response.json()["fields"].keys() == {field}
        assert not PortfolioItem.objects.exists()

    def test_someone_elses_media_or_booking_is_refused(
        self, technician, other_technician, customer, technician_client
    ):
        foreign = MediaAssetFactory(owner=other_technician)
        assert _create(technician_client, mediaIds=[foreign.pk]).status_code == 400
        theirs = make_booking(customer=customer, technician=other_technician)
        response = _create(technician_client, bookingId=theirs.pk)
        assert response.json()["fields"] == {"bookingId": ["Not one of your completed bookings."]}
        assert not PortfolioItem.objects.exists()

    def test_a_booking_not_yet_completed_is_refused(self, technician, customer, technician_client):
        pending = make_booking(
            customer=customer, technician=technician, status=BookingStatus.PENDING
        )
        assert _create(technician_client, bookingId=pending.pk).status_code == 400

    def test_one_booking_backs_one_item(self, technician, customer, technician_client):
        booking = make_booking(customer=customer, technician=technician)
        assert _create(technician_client, bookingId=booking.pk).status_code == 201
        response = _create(technician_client, bookingId=booking.pk)
        assert response.status_code == 400
        assert response.json()["fields"] == {
            "bookingId": ["Another portfolio item already shows this job."]
        }
        assert PortfolioItem.objects.count() == 1

    def test_portfolio_is_capped(self, technician, technician_client):
        profile = technician.technician_profile
        PortfolioItem.objects.bulk_create(
            [PortfolioItem(profile=profile, title=f"Job {i}", position=i) for i in range(50)]
        )
        response = _create(technician_client)
        assert response.status_code == 409
        assert response.json()["code"] == "portfolio_full"


class TestOwnerReadsAndEdits:
    def test_list_in_profile_order_including_hidden(self, technician_client, item, admin_user):
        second = _create(technician_client, title="Second").json()
        portfolio_item_moderate(item_id=item.pk, actor=admin_user, hidden=True, reason="Blurry")
        body = technician_client.get(MINE).json()
        assert body["count"] == 2
        assert [r["id"] for r in body["results"]] == [item.pk, second["id"]]
        assert body["results"][0]["isHidden"] is True
        assert body["results"][0]["hiddenReason"] == "Blurry"

    def test_list_runs_a_constant_number_of_queries(
        self, technician, technician_client, django_assert_num_queries
    ):
        for _ in range(3):
            _create(technician_client, mediaIds=[MediaAssetFactory(owner=technician).pk])
        # user (token), count, page, media
        with django_assert_num_queries(4):
            assert len(technician_client.get(MINE).json()["results"]) == 3

    def test_patch_changes_only_the_fields_sent(self, technician, technician_client, item):
        photo = MediaAssetFactory(owner=technician)
        response = technician_client.patch(
            f"{MINE}/{item.pk}", {"title": "Geyser replaced", "mediaIds": [photo.pk]}, format="json"
        )
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["title"] == "Geyser replaced"
        assert body["description"] == "Fitted a 100 l geyser."
        assert [m["id"] for m in body["media"]] == [photo.pk]
        cleared = technician_client.patch(f"{MINE}/{item.pk}", {"mediaIds": []}, format="json")
        assert cleared.json()["media"] == []

    def test_patch_bad_input(self, technician_client, item):
        for body in ({}, {"title": ""}, {"completedOn": "2999-01-01"}):
            response = technician_client.patch(f"{MINE}/{item.pk}", body, format="json")
            assert response.status_code == 400, body
            assert response.json()["code"] == "validation_error"
        assert PortfolioItem.objects.get(pk=item.pk).title == "Geyser fitted"

    def test_null_clears_the_booking(self, technician, customer, technician_client):
        booking = make_booking(customer=customer, technician=technician)
        created = _create(technician_client, bookingId=booking.pk).json()
        response = technician_client.patch(
            f"{MINE}/{created['id']}", {"bookingId": None}, format="json"
        )
        assert response.json()["isVerifiedJob"] is False

    def test_reorder(self, technician_client, item):
        second = _create(technician_client).json()["id"]
        third = _create(technician_client).json()["id"]
        response = technician_client.post(
            f"{MINE}/reorder", {"itemIds": [third, item.pk, second]}, format="json"
        )
        assert response.status_code == 200
        assert [r["id"] for r in response.json()] == [third, item.pk, second]
        assert [r["position"] for r in response.json()] == [0, 1, 2]

    @pytest.mark.parametrize("ids", ["missing", "duplicate", "foreign"])
    def test_reorder_must_name_each_own_item_once(
        self, technician_client, other_technician_client, item, ids
    ):
        second = _create(technician_client).json()["id"]
        foreign = _create(other_technician_client).json()["id"]
        item_ids = {
            "missing": [item.pk],
            "duplicate": [item.pk, second, second],
            "foreign": [item.pk, second, foreign],
        }[ids]
        response = technician_client.post(f"{MINE}/reorder", {"itemIds": item_ids}, format="json")
        assert response.status_code == 400
        assert response.json()["fields"] == {
            "itemIds": ["List each of your portfolio items exactly once."]
        }
        assert list(
            PortfolioItem.objects.filter(pk__in=[item.pk, second])
            .order_by("position")
            .values_list("pk", flat=True)
        ) == [item.pk, second]

    def test_delete_keeps_the_uploads(self, technician, technician_client):
        photo = MediaAssetFactory(owner=technician)
        created = _create(technician_client, mediaIds=[photo.pk]).json()
        assert technician_client.delete(f"{MINE}/{created['id']}").status_code == 204
        assert not PortfolioItem.objects.exists()
        assert not PortfolioItemMedia.objects.exists()
        photo.refresh_from_db()
        assert photo.is_deleted is False


class TestPersonas:
    @pytest.mark.parametrize("method", ["get", "patch", "delete"])
    def test_another_technicians_item_is_404(self, other_technician_client, item, method):
        response = getattr(other_technician_client, method)(
            f"{MINE}/{item.pk}", {"title": "Mine now"}, format="json"
        )
        assert response.status_code == 404
        assert response.json()["code"] == "portfolio_item_not_found"
        assert PortfolioItem.objects.get(pk=item.pk).title == "Geyser fitted"

    @pytest.mark.parametrize("client", ["customer_client", "support_client"])
    def test_non_technicians_have_no_portfolio(self, request, client, item):
        api = request.getfixturevalue(client)
        assert api.get(MINE).status_code == 403
        assert api.post(MINE, {"title": "x"}, format="json").status_code == 403
        assert api.get(f"{MINE}/{item.pk}").status_code == 403

    def test_anonymous_is_401(self, anon_client, item):
        assert anon_client.get(MINE).status_code == 401
        assert anon_client.post(f"/api/v1/portfolio/{item.pk}/moderate", {}).status_code == 401


class TestModeration:
    def test_staff_hide_and_unhide(self, support_client, support_agent, item, technician):
        url = f"/api/v1/portfolio/{item.pk}/moderate"
        response = support_client.post(url, {"action": "hide", "reason": "ID card"}, format="json")
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["isHidden"] is True
        assert body["hiddenReason"] == "ID card"
        assert body["hiddenById"] == support_agent.pk
        assert body["technicianId"] == technician.pk
        first_hidden_at = body["hiddenAt"]
        again = support_client.post(url, {"action": "hide"}, format="json").json()
        assert again["hiddenAt"] == first_hidden_at  # idempotent
        shown = support_client.post(url, {"action": "unhide"}, format="json").json()
        assert shown["isHidden"] is False
        assert shown["hiddenAt"] is None

    def test_bad_action_and_unknown_item(self, admin_client_api, item):
        url = f"/api/v1/portfolio/{item.pk}/moderate"
        response = admin_client_api.post(url, {"action": "delete"}, format="json")
        assert response.status_code == 400
        assert "action" in response.json()["fields"]
        missing = admin_client_api.post(
            "/api/v1/portfolio/999999/moderate", {"action": "hide"}, format="json"
        )
        assert missing.status_code == 404

    @pytest.mark.parametrize(
        "client", ["customer_client", "technician_client", "other_technician_client"]
    )
    def test_only_staff_moderate(self, request, client, item):
        api = request.getfixturevalue(client)
        response = api.post(
            f"/api/v1/portfolio/{item.pk}/moderate", {"action": "hide"}, format="json"
        )
        assert response.status_code == 403
        assert PortfolioItem.objects.get(pk=item.pk).is_hidden is False


def test_completed_today_is_accepted_and_dates_are_local(technician_client):
    today = timezone.localdate()
    assert _create(technician_client, completedOn=str(today)).status_code == 201
    tomorrow = today + timedelta(days=1)
    assert _create(technician_client, completedOn=str(tomorrow)).status_code == 400
