"""Races on the same rows: two likes of one post, two reviews of one technician at once."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from accounts.tests.factories import UserFactory
from social.models import Like, Post
from social.services import posts as post_services
from social.services import reviews as review_services
from social.tests.factories import PostFactory, make_booking

pytestmark = pytest.mark.django_db(transaction=True)

ASPECTS = {"quality": 5, "timeliness": 5, "professionalism": 5, "communication": 5, "value": 5}


def run_together(*functions):
    barrier = threading.Barrier(len(functions))
    errors = []

    def wrap(fn):
        try:
            barrier.wait()
            fn()
        except Exception as exc:  # collected and asserted by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrap, args=(fn,)) for fn in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


def test_double_like_race_keeps_one_like(customer, other_customer):
    post = PostFactory(author=other_customer)

    errors = run_together(
        *[lambda: post_services.post_like(post=post, user=customer) for _ in range(4)]
    )

    assert errors == []
    assert Like.objects.filter(post=post).count() == 1
    assert Post.objects.get(pk=post.pk).like_count == 1


def test_concurrent_reviews_keep_aggregates_exact(technician):
    customers = [UserFactory(email=f"race{i}@example.co.ke") for i in range(3)]
    bookings = [make_booking(customer=c, technician=technician) for c in customers]
    for (
        booking
    ) in bookings:  # the technician reviews first, so each customer review publishes at once
        review_services.review_create(reviewer=technician, booking_id=booking.id, overall=5)

    errors = run_together(
        *[
            (
                lambda c=c, b=b, o=o: review_services.review_create(
                    reviewer=c, booking_id=b.id, overall=o, ratings=ASPECTS
                )
            )
            for c, b, o in zip(customers, bookings, [5, 4, 3], strict=True)
        ]
    )

    assert errors == []
    profile = technician.technician_profile
    profile.refresh_from_db()
    assert (profile.rating_average, profile.rating_count) == (Decimal("4.00"), 3)


def test_both_sides_reviewing_at_once_publish_both(customer, technician):
    booking = make_booking(customer=customer, technician=technician)

    errors = run_together(
        lambda: review_services.review_create(
            reviewer=customer, booking_id=booking.id, overall=4, ratings=ASPECTS
        ),
        lambda: review_services.review_create(
            reviewer=technician, booking_id=booking.id, overall=5
        ),
    )

    assert errors == []

    assert all(r.visible_from <= timezone.now() for r in booking.reviews.all())
    profile = technician.technician_profile
    profile.refresh_from_db()
    assert profile.rating_count == 1
