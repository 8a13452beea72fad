import pytest

from accounts.models import ServiceCategory


@pytest.fixture
def electrical(db) -> ServiceCategory:
    category, _ = ServiceCategory.objects.get_or_create(
        slug="electrical",
        defaults={"name": "Electrical", "typical_price_min": 800, "typical_price_max": 10000},
    )
    return category
