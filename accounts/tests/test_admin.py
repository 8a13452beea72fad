from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import KycReview, KycStatus, PortfolioItem, User
from accounts.services.portfolio import portfolio_item_create
from accounts.tests.factories import DEFAULT_PASSWORD, TechnicianFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_site(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def test_admin_pages_render(admin_site, technician, customer):
    profile = technician.technician_profile
    for url in (
        "/admin/accounts/user/",
        f"/admin/accounts/user/{customer.pk}/change/",
        "/admin/accounts/user/?q=wanjiku&role__exact=customer",
        "/admin/accounts/technicianprofile/?kyc_status__exact=approved",
        f"/admin/accounts/technicianprofile/{profile.pk}/change/",
        "/admin/accounts/servicecategory/",
        "/admin/accounts/corporateprofile/",
        "/admin/accounts/kycreview/",
    ):
        assert admin_site.get(url).status_code == 200, url


def test_admin_kyc_approve_action_writes_an_audit_row(admin_site, admin_user):
    pending = TechnicianFactory(
        skill=False, profile__kyc_status=KycStatus.PENDING
    ).technician_profile
    untouched = TechnicianFactory(
        skill=False, profile__kyc_status=KycStatus.NOT_SUBMITTED
    ).technician_profile
    response = admin_site.post(
        "/admin/accounts/technicianprofile/",
        {"action": "approve_kyc", "_selected_action": [pending.pk, untouched.pk]},
    )
    assert response.status_code == 302
    pending.refresh_from_db()
    untouched.refresh_from_db()
    assert pending.kyc_status == KycStatus.APPROVED
    assert untouched.kyc_status == KycStatus.NOT_SUBMITTED
    review = KycReview.objects.get()
    assert (review.profile_id, review.actor, review.to_status, review.note) == (
        pending.pk,
        admin_user,
        KycStatus.APPROVED,
        "Approved in the admin",
    )


def test_staff_create_accounts_with_a_password_in_the_admin(admin_site):
    response = admin_site.get("/admin/accounts/user/add/")
    assert response.status_code == 200
    response = admin_site.post(
        "/admin/accounts/user/add/",
        {
            "email": "New.Agent@DumuWaks.co.ke",
            "first_name": "Neema",
            "last_name": "Agent",
            "phone_number": "0788000999",
            "role": "support",
            "password1": "Msaada-Kazi-2026",
            "password2": "Msaada-Kazi-2026",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    agent = User.objects.get(email="new.agent@dumuwaks.co.ke")
    assert agent.role == "support"
    assert agent.phone_number == "+254788000999"
    assert agent.check_password("Msaada-Kazi-2026")


def test_admin_unlock_action(admin_site, customer):
    """Reopens every closed address of the account and clears the record staff see
    (test_login_lockout_per_source.py drives it from real failures)."""
    attacker = APIClient(REMOTE_ADDR="203.0.113.7")
    for _ in range(5):
        attacker.post(
            "/api/v1/auth/login", {"email": customer.email, "password": "wrong"}, format="json"
        )
    User.objects.filter(pk=customer.pk).update(locked_until=timezone.now() + timedelta(minutes=10))
    assert "Sign-in locked until" in admin_site.get("/admin/accounts/user/").content.decode()
    admin_site.post(
        "/admin/accounts/user/", {"action": "unlock_accounts", "_selected_action": [customer.pk]}
    )
    customer.refresh_from_db()
    assert customer.locked_until is None
    signed_in = attacker.post(
        "/api/v1/auth/login",
        {"email": customer.email, "password": DEFAULT_PASSWORD},
        format="json",
    )
    assert signed_in.status_code == 200


def test_admin_hides_and_shows_portfolio_items_through_the_service(
    admin_site, admin_user, technician
):
    item = portfolio_item_create(technician=technician, title="Sink")
    profile = technician.technician_profile
    for url in (
        "/admin/accounts/portfolioitem/",
        f"/admin/accounts/portfolioitem/{item.pk}/change/",
        f"/admin/accounts/technicianprofile/{profile.pk}/change/",
    ):
        assert admin_site.get(url).status_code == 200, url
    response = admin_site.post(
        "/admin/accounts/portfolioitem/", {"action": "hide_items", "_selected_action": [item.pk]}
    )
    assert response.status_code == 302
    item = PortfolioItem.objects.get(pk=item.pk)
    assert (item.is_hidden, item.hidden_by) == (True, admin_user)
    admin_site.post(
        "/admin/accounts/portfolioitem/", {"action": "unhide_items", "_selected_action": [item.pk]}
    )
    assert PortfolioItem.objects.get(pk=item.pk).is_hidden is False
