import pytest
from django.test import Client
from django.urls import reverse

from notifications.services import chat
from notifications.tests.factories import DeviceTokenFactory, NotificationFactory

pytestmark = pytest.mark.django_db

MODELS = (
    "conversation",
    "message",
    "notification",
    "notificationdelivery",
    "notificationpreference",
    "devicetoken",
)


def test_admin_pages_render_with_search(admin_user, booking_conversation, customer):
    message = chat.message_send(conversation=booking_conversation, sender=customer, body="hello")
    notification = NotificationFactory(user=customer)
    DeviceTokenFactory(user=customer)
    client = Client()
    client.force_login(admin_user)
    for model in MODELS:
        url = reverse(f"admin:notifications_{model}_changelist")
        assert client.get(url).status_code == 200, model
        assert client.get(url, {"q": "wanjiku"}).status_code == 200, model
    for model, pk in (
        ("conversation", booking_conversation.pk),
        ("message", message.pk),
        ("notification", notification.pk),
    ):
        assert (
            client.get(reverse(f"admin:notifications_{model}_change", args=[pk])).status_code == 200
        )
