"""Staff can open every matching admin page."""

import pytest
from django.urls import reverse

from accounts.tests.factories import CustomerFactory, TechnicianFactory
from matching.services import customer_block_create, match_search, matching_preferences_update
from matching.tests.factories import tomorrow_at


@pytest.mark.django_db
def test_admin_pages_load(client, admin_user, service_category):
    tech = TechnicianFactory(skill=service_category)
    customer = CustomerFactory()
    _, (match,) = match_search(
        customer=customer,
        category=service_category,
        scheduled_start=tomorrow_at(10),
        duration_minutes=60,
    )
    matching_preferences_update(customer=customer, preferred_technician_ids=[tech.pk])
    customer_block_create(customer=CustomerFactory(), technician_id=tech.pk)
    client.force_login(admin_user)
    for name in ("match", "matchingpreference", "customerblock"):
        response = client.get(reverse(f"admin:matching_{name}_changelist"), {"q": "example"})
        assert response.status_code == 200, name
    response = client.get(reverse("admin:matching_match_change", args=[match.pk]))
    assert response.status_code == 200
