import pytest

from bookings.tests.factories import BookingFactory
from notifications import push, sms
from notifications.services import chat


@pytest.fixture(autouse=True)
def _clear_outboxes():
    sms.outbox.clear()
    push.outbox.clear()
    yield
    sms.outbox.clear()
    push.outbox.clear()


@pytest.fixture
def booking(customer, technician):
    return BookingFactory(customer=customer, technician=technician)


@pytest.fixture
def other_booking(other_customer, other_technician):
    return BookingFactory(customer=other_customer, technician=other_technician)


@pytest.fixture
def booking_conversation(booking, customer):
    conversation, _ = chat.conversation_get_or_create_for_booking(booking=booking, user=customer)
    return conversation
