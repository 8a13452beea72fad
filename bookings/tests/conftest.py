import pytest

from accounts.models import Role
from accounts.tests.factories import UserFactory


@pytest.fixture
def event_spy(monkeypatch):
    """Record every bookings/dispute event as (event, payload).

    Other apps' subscribers are set aside for the test so this app's tests do not depend on theirs.
    """
    from collections import defaultdict

    from dumuwaks.core import side_effects

    monkeypatch.setattr(side_effects, "_subscribers", defaultdict(list))

    events = (
        "booking.created",
        "booking.status_changed",
        "booking.deposit_paid",
        "dispute.opened",
        "dispute.resolved",
    )
    received: list[tuple[str, dict]] = []
    for name in events:

        def handler(_name=name, **payload):
            received.append((_name, payload))

        side_effects.subscribe(name, handler)
    return received


@pytest.fixture
def staff_user(db):
    return UserFactory(role=Role.SUPPORT, is_staff=True)
