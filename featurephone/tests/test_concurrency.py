"""Races the database must settle: the same offer asked for by several workers at once is texted once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from bookings.tests.factories import BookingFactory
from featurephone.models import OfferCode, SmsOfferEnrolment
from featurephone.tasks import offer_sms_send
from notifications import sms

pytestmark = pytest.mark.django_db(transaction=True)


def test_simultaneous_sends_of_one_offer_text_it_once(technician, customer, service_category):
    technician.is_phone_verified = True
    technician.save(update_fields=["is_phone_verified"])
    SmsOfferEnrolment.objects.create(technician=technician)
    booking = BookingFactory(customer=customer, technician=technician, category=service_category)
    n = 4
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(offer_sms_send(booking.pk))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(results) == ["already_sent"] * (n - 1) + ["sent"]
    code = OfferCode.objects.get(booking=booking, technician=technician).code
    offers = [s.message for s in sms.outbox if s.to == technician.phone_number]
    assert len(offers) == 1 and f"YES {code}" in offers[0]
