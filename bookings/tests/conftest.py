import pytest

from accounts.models import Role
from accounts.tests.factories import UserFactory


@pytest.fixture
def staff_user(db):
    return UserFactory(role=Role.SUPPORT, is_staff=True)
