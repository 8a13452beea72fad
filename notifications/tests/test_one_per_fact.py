"""One fact, one notification per person: counted on every channel (in-app rows, emails in the locmem
outbox, SMS and pushes through the console backends), through the real services and event subscribers."""

from collections import Counter

import pytest
from django.core import mail

from bookings.models import BookingStatus, DisputeOutcome
from bookings.services import booking_transition, dispute_open, dispute_resolve
from bookings.tests.factories import BookingFactory, DisputeFactory
from notifications import push, sms
from notifications.models import Notification
from notifications.tests.factories import DeviceTokenFactory
from payments.tests.helpers import paid_payment

pytestmark = pytest.mark.django_db


@pytest.fixture
def devices(customer, technician):
    return {
        customer.pk: DeviceTokenFactory(user=customer).token,
        technician.pk: DeviceTokenFactory(user=technician).token,
    }


def _received(users, devices) -> dict[int, dict[str, int]]:
    """Per user: how many notifications reached them on each channel."""
    in_app = Counter(Notification.objects.filter(is_in_app=True).values_list("user_id", flat=True))
    emails = Counter(address for message in mail.outbox for address in message.to)
    texts = Counter(message.to for message in sms.outbox)
    pushes = Counter(token for message in push.outbox for token in message.targets)
    return {
        user.pk: {
            "in_app": in_app[user.pk],
            "email": emails[user.email],
            "sms": texts[user.phone_number],
            "push": pushes[devices[user.pk]],
        }
        for user in users
    }


ONCE = {"in_app": 1, "email": 1, "sms": 1, "push": 1}
NOTHING = {"in_app": 0, "email": 0, "sms": 0, "push": 0}


def _types(user) -> list[str]:
    return list(Notification.objects.filter(user=user).values_list("type", flat=True))


@pytest.mark.parametrize("outcome", DisputeOutcome.values)
def test_a_resolved_dispute_notifies_each_party_once_on_every_channel(
    outcome, customer, technician, support_agent, devices, django_capture_on_commit_callbacks
):
    booking = BookingFactory(
        customer=customer,
        technician=technician,
        status=BookingStatus.DISPUTED,
        deposit_paid=True,
    )
    dispute = DisputeFactory(booking=booking, opened_by=customer)
    refund = None
    if outcome == DisputeOutcome.PARTIAL_REFUND:
        # A refund is at most what the customer paid: the deposit (its own notifications are not run).

        refund = paid_payment(booking).amount - 1

    with django_capture_on_commit_callbacks(execute=True):
        dispute_resolve(dispute=dispute, actor=support_agent, outcome=outcome, refund_amount=refund)

    assert _received([customer, technician], devices) == {
        customer.pk: ONCE,
        technician.pk: ONCE,
    }
    assert _types(customer) == _types(technician) == ["dispute.resolved"]
    assert not Notification.objects.filter(user=support_agent).exists()


def test_an_opened_dispute_notifies_each_party_once(
    customer, technician, devices, django_capture_on_commit_callbacks
):
    booking = BookingFactory(customer=customer, technician=technician, deposit_paid=True)
    for to in (BookingStatus.ACCEPTED, BookingStatus.EN_ROUTE, BookingStatus.IN_PROGRESS):
        booking_transition(booking=booking, to=to, actor=technician)
    booking_transition(booking=booking, to=BookingStatus.COMPLETED, actor=technician)

    with django_capture_on_commit_callbacks(execute=True):
        dispute_open(booking=booking, opened_by=customer, reason="The tap still drips.")

    assert _received([customer, technician], devices) == {
        customer.pk: ONCE,
        technician.pk: ONCE,
    }
    assert _types(customer) == _types(technician) == ["dispute.opened"]


@pytest.mark.parametrize(
    ("to", "actor", "notified"),
    [
        (BookingStatus.ACCEPTED, "technician", "customer"),
        (BookingStatus.EN_ROUTE, "technician", "customer"),
        (BookingStatus.ARRIVED, "technician", "customer"),
        (BookingStatus.IN_PROGRESS, "technician", "customer"),
        (BookingStatus.COMPLETED, "technician", "customer"),
        (BookingStatus.CONFIRMED, "customer", "technician"),
    ],
)
def test_each_status_change_notifies_the_other_party_once(
    to, actor, notified, customer, technician, devices, django_capture_on_commit_callbacks
):
    booking = BookingFactory(customer=customer, technician=technician, deposit_paid=True)
    path = [
        BookingStatus.ACCEPTED,
        BookingStatus.EN_ROUTE,
        BookingStatus.ARRIVED,
        BookingStatus.IN_PROGRESS,
        BookingStatus.COMPLETED,
    ]
    people = {"customer": customer, "technician": technician}
    for step in path[: path.index(to)] if to in path else path:
        booking_transition(booking=booking, to=step, actor=technician)

    with django_capture_on_commit_callbacks(execute=True):
        booking_transition(booking=booking, to=to, actor=people[actor])

    assert _received([people[notified], people[actor]], devices) == {
        people[notified].pk: ONCE,
        people[actor].pk: NOTHING,
    }


def test_a_paid_deposit_is_one_notification_for_the_customer_and_one_for_the_technician(
    customer, technician, devices, django_capture_on_commit_callbacks
):
    """The customer hears that their money arrived (not also "deposit received" from the booking), the
    assigned technician that the job can now be accepted."""

    booking = BookingFactory(customer=customer, technician=technician)
    with django_capture_on_commit_callbacks(execute=True):
        paid_payment(booking)

    assert _received([customer, technician], devices) == {
        customer.pk: ONCE,
        technician.pk: ONCE,
    }
    assert _types(customer) == ["payment.deposit_received"]
    assert _types(technician) == ["booking.deposit_paid"]
