import uuid

import factory
from django.utils import timezone

from bookings.models import BookingStatus
from bookings.tests.factories import BookingFactory
from social.models import MediaAsset, Post, PostStatus, PostType


class MediaAssetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MediaAsset

    owner = None
    public_id = factory.LazyAttribute(
        lambda o: f"dumuwaks/users/{o.owner.id}/uploads/{uuid.uuid4().hex}"
    )
    url = factory.LazyAttribute(lambda o: f"http://testserver/media/{o.public_id}.{o.format}")
    secure_url = ""
    thumbnail_url = factory.LazyAttribute(
        lambda o: f"http://testserver/media/{o.public_id}_thumb.{o.format}"
    )
    optimized_url = factory.LazyAttribute(lambda o: o.url)
    resource_type = "image"
    format = factory.LazyAttribute(lambda o: "jpg" if o.resource_type == "image" else "mp4")
    bytes = 12345
    width = 640
    height = 480
    folder = factory.LazyAttribute(lambda o: o.public_id.rpartition("/")[0])
    backend = "local"


class PostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Post

    author = None
    type = PostType.TEXT
    body = factory.Sequence(lambda n: f"Post number {n}")
    status = PostStatus.PUBLISHED


def make_booking(*, customer, technician, status=BookingStatus.CONFIRMED, **extra):
    now = timezone.now()
    if status in (BookingStatus.CONFIRMED, BookingStatus.RESOLVED):
        extra.setdefault("completed_at", now)
        extra.setdefault("confirmed_at", now)
    elif status == BookingStatus.COMPLETED:
        extra.setdefault("completed_at", now)
    return BookingFactory(customer=customer, technician=technician, status=status, **extra)
