import factory
from django.utils import timezone

from notifications.models import DevicePlatform, DeviceToken, Notification, NotificationGroup


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    type = "booking.accepted"
    group = NotificationGroup.BOOKINGS
    title = factory.Sequence(lambda n: f"Notification {n}")
    body = "Something happened."
    data = factory.LazyFunction(dict)


class DeviceTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeviceToken

    token = factory.Sequence(lambda n: f"fcm-token-{n:04d}-" + "x" * 140)
    platform = DevicePlatform.ANDROID
    last_seen = factory.LazyFunction(timezone.now)
