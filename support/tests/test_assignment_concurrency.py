"""Two tickets created at the same moment must go to two different idle agents."""

import threading

import pytest
from django.db import connection

from accounts.models import Role
from accounts.tests.factories import UserFactory
from support import services
from support.models import SupportTicket


@pytest.mark.django_db(transaction=True)
def test_concurrent_tickets_go_to_different_idle_agents():
    customers = [
        UserFactory(email=f"c{i}@example.co.ke", phone_number=f"+25471100000{i}") for i in range(2)
    ]
    agents = {
        UserFactory(
            email=f"agent{i}@dumuwaks.co.ke",
            role=Role.SUPPORT,
            phone_number=f"+25475500010{i}",
            is_staff=True,
        ).pk
        for i in range(2)
    }
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def open_ticket(customer):
        try:
            barrier.wait(timeout=5)
            services.ticket_create(
                created_by=customer, subject="Help", description="Now", category="general"
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=open_ticket, args=(c,)) for c in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assigned = list(SupportTicket.objects.values_list("assigned_to_id", flat=True))
    assert len(assigned) == 2
    assert set(assigned) == agents
