import pytest

from conftest import bearer_client
from notifications.models import DeviceToken, Notification, NotificationPreference
from notifications.tests.factories import DeviceTokenFactory, NotificationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/notifications"


def test_list_own_only_with_unread_filter(customer_client, customer, other_customer):
    read = NotificationFactory(user=customer, is_read=True)
    unread = NotificationFactory(user=customer)
    NotificationFactory(user=other_customer)
    NotificationFactory(user=customer, is_in_app=False)  # anchors external deliveries only
    body = customer_client.get(URL).json()
    assert body["count"] == 2
    assert [n["id"] for n in body["results"]] == [unread.pk, read.pk]
    only_unread = customer_client.get(f"{URL}?unread=true").json()
    assert [n["id"] for n in only_unread["results"]] == [unread.pk]
    assert customer_client.get(f"{URL}?unread=maybe").status_code == 400


def test_list_constant_queries(customer_client, customer, django_assert_max_num_queries):
    NotificationFactory.create_batch(2, user=customer)
    with django_assert_max_num_queries(5) as small:
        customer_client.get(URL)
    NotificationFactory.create_batch(30, user=customer)
    with django_assert_max_num_queries(5) as large:
        assert len(customer_client.get(f"{URL}?pageSize=50").json()["results"]) == 32
    assert len(small.captured_queries) == len(large.captured_queries)


def test_mark_read_own_only(customer_client, other_customer_client, customer):
    notification = NotificationFactory(user=customer)
    assert other_customer_client.post(f"{URL}/{notification.pk}/read").status_code == 404
    notification.refresh_from_db()
    assert notification.is_read is False
    response = customer_client.post(f"{URL}/{notification.pk}/read")
    assert response.status_code == 200 and response.json()["isRead"] is True
    assert response.json()["readAt"]


def test_read_all(customer_client, customer, other_customer):
    NotificationFactory.create_batch(3, user=customer)
    theirs = NotificationFactory(user=other_customer)
    response = customer_client.post(f"{URL}/read-all")
    assert response.status_code == 200 and response.json() == {"updated": 3}
    theirs.refresh_from_db()
    assert theirs.is_read is False


def test_literal_paths_are_not_captured_by_pk(customer_client):
    assert customer_client.get(f"{URL}/preferences").status_code == 200
    assert customer_client.post(f"{URL}/read-all").status_code == 200
    assert customer_client.post(f"{URL}/preferences/read").status_code == 404


def test_preferences_defaults_and_partial_update(customer_client, customer):
    defaults = customer_client.get(f"{URL}/preferences").json()
    assert defaults["bookings"] == {"inApp": True, "push": True, "email": True, "sms": True}
    assert defaults["marketing"] == {"inApp": True, "push": True, "email": False, "sms": False}
    updated = customer_client.put(
        f"{URL}/preferences", {"bookings": {"sms": False}, "marketing": {"email": True}}
    )
    assert updated.status_code == 200
    body = updated.json()
    assert body["bookings"] == {"inApp": True, "push": True, "email": True, "sms": False}
    assert body["marketing"]["email"] is True and body["payments"]["sms"] is True
    assert NotificationPreference.objects.filter(user=customer).count() == 2
    assert customer_client.get(f"{URL}/preferences").json() == body
    bad = customer_client.put(f"{URL}/preferences", {"bookings": {"sms": "perhaps"}})
    assert bad.status_code == 400


def test_register_device_then_unregister(customer_client, customer, other_customer):
    token = "fcm:" + "a" * 150
    created = customer_client.post(f"{URL}/devices", {"token": token, "platform": "android"})
    assert created.status_code == 201 and created.json()["platform"] == "android"
    again = customer_client.post(f"{URL}/devices", {"token": token, "platform": "android"})
    assert again.status_code == 200
    assert DeviceToken.objects.filter(user=customer).count() == 1
    bad = customer_client.post(f"{URL}/devices", {"token": token, "platform": "symbian"})
    assert bad.status_code == 400

    # Someone else cannot unregister it.

    outsider = bearer_client(other_customer)
    assert outsider.delete(f"{URL}/devices", {"token": token}).status_code == 404
    assert outsider.delete(f"{URL}/devices/{token}").status_code == 404
    assert customer_client.delete(f"{URL}/devices", {"token": token}).status_code == 204
    assert not DeviceToken.objects.exists()


def test_unregister_by_path(customer_client, customer):
    device = DeviceTokenFactory(user=customer)
    assert customer_client.delete(f"{URL}/devices/{device.token}").status_code == 204
    assert not DeviceToken.objects.exists()


def test_device_moves_to_the_new_account(customer_client, other_customer, customer):
    device = DeviceTokenFactory(user=other_customer)
    response = customer_client.post(f"{URL}/devices", {"token": device.token, "platform": "ios"})
    assert response.status_code == 200
    device.refresh_from_db()
    assert device.user_id == customer.pk and device.platform == "ios"


def test_anonymous_is_401(anon_client):
    for response in (
        anon_client.get(URL),
        anon_client.get(f"{URL}/preferences"),
        anon_client.post(f"{URL}/devices", {"token": "t", "platform": "web"}),
    ):
        assert response.status_code == 401
    assert not Notification.objects.exists()


def test_nul_in_device_token_path_is_404(customer_client, customer):
    DeviceTokenFactory(user=customer, token="token")
    assert customer_client.delete(f"{URL}/devices/tok%00en").status_code == 404
    assert customer_client.delete(f"{URL}/devices", {"token": "tok\x00en"}).status_code == 400
    assert DeviceToken.objects.count() == 1
