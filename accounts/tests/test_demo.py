import pytest

from accounts.demo import ACCOUNTS, CATEGORIES, DEMO_PASSWORD, load_demo_accounts
from accounts.models import CorporateProfile, ServiceCategory, TechnicianProfile, User

pytestmark = pytest.mark.django_db


def test_demo_data_is_idempotent_and_every_demo_account_can_sign_in(anon_client):
    load_demo_accounts()
    load_demo_accounts()
    assert ServiceCategory.objects.count() == len(CATEGORIES)
    assert User.objects.count() == len(ACCOUNTS)
    assert TechnicianProfile.objects.get().kyc_status == "approved"
    assert CorporateProfile.objects.get().company_name == "Amani Holdings Ltd"
    for email, *_ in ACCOUNTS:
        response = anon_client.post(
            "/api/v1/auth/login", {"email": email, "password": DEMO_PASSWORD}, format="json"
        )
        assert response.status_code == 200, email
