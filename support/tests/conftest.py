import pytest

from accounts.models import Role
from conftest import make_user


@pytest.fixture
def other_agent(db):
    return make_user(
        email="wafula@dumuwaks.co.ke",
        role=Role.SUPPORT,
        phone_number="+254755000999",
        is_staff=True,
        first_name="Wafula",
        last_name="Support",
    )
