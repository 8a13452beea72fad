"""factory_boy factories for payments rows (importable by other apps' tests).

They write rows directly, without ledger postings: use them for read-side tests (lists, permissions). For
money that must reconcile, go through the services (see payments/tests/helpers.py `paid_payment`).
"""

from decimal import Decimal

import factory

from bookings.tests.factories import BookingFactory
from payments.models import (
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    Payout,
    PayoutChannel,
    PayoutKind,
    PayoutStatus,
)


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    booking = factory.SubFactory(BookingFactory)
    payer = factory.LazyAttribute(lambda o: o.booking.customer)
    purpose = PaymentPurpose.DEPOSIT
    method = PaymentMethod.MPESA
    amount = factory.LazyAttribute(lambda o: o.booking.deposit_amount)
    phone = factory.LazyAttribute(lambda o: o.payer.phone_number or "")
    status = PaymentStatus.PENDING
    checkout_request_id = factory.Sequence(lambda n: f"ws_CO_factory_{n}")
    merchant_request_id = factory.Sequence(lambda n: f"factory-{n}")


class PayoutFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payout

    booking = factory.SubFactory(BookingFactory)
    kind = PayoutKind.TECHNICIAN_PAYOUT
    channel = PayoutChannel.MPESA
    recipient = factory.LazyAttribute(lambda o: o.booking.technician)
    phone = factory.LazyAttribute(lambda o: o.recipient.phone_number or "")
    amount = Decimal("850.00")
    status = PayoutStatus.PENDING_REVIEW
    attempt = 1
