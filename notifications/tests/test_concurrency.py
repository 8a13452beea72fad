"""Races that the database must settle: simultaneous opens of one conversation, simultaneous sends."""

import threading

import pytest
from django.db import connection

from notifications.models import Conversation, ConversationParticipant, Message
from notifications.services import chat

pytestmark = pytest.mark.django_db(transaction=True)


def _in_threads(n, target):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(target())
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results, errors


def test_simultaneous_opens_of_a_booking_conversation_make_one(booking, customer, technician):
    users = [customer, technician] * 3
    results, errors = _in_threads(
        len(users),
        lambda: chat.conversation_get_or_create_for_booking(
            booking=booking, user=users[threading.get_ident() % len(users)]
        ),
    )
    assert errors == []
    assert len({conversation.pk for conversation, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert Conversation.objects.count() == 1
    assert ConversationParticipant.objects.count() == 2


def test_simultaneous_sends_count_every_message_unread(booking_conversation, customer, technician):
    n = 8
    results, errors = _in_threads(
        n,
        lambda: chat.message_send(conversation=booking_conversation, sender=customer, body="race"),
    )
    assert errors == [] and len(results) == n
    assert Message.objects.count() == n
    unread = ConversationParticipant.objects.get(
        conversation=booking_conversation, user=technician
    ).unread_count
    assert unread == n
