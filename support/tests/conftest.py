import pytest

from accounts.models import Role
from accounts.tests.factories import UserFactory


@pytest.fixture
def other_agent(db):
    return UserFactory(
        email="wafula@dumuwaks.co.ke",
        role=Role.SUPPORT,
        phone_number="+254755000999",
        is_staff=True,
        first_name="Wafula",
        last_name="Support",
    )
