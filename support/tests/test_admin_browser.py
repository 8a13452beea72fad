"""The Django admin driven in a real headless Chromium (Playwright) against pytest-django's live_server.

Needs the system Chromium (`make system-deps` installs it) and the `playwright` pip package; without
Chromium these tests fail, saying so, rather than skip: a suite that passes without them has not tested the
admin.
"""

import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import sync_playwright

from accounts.models import KycReview, KycStatus, TechnicianProfile
from accounts.tests.factories import DEFAULT_PASSWORD, TechnicianFactory
from bookings.tests.factories import BookingFactory
from payments.models import Payout, PayoutChannel, PayoutKind, PayoutStatus

# The local fake Daraja (payments' test plugin) answers the payout send task.
from payments.tests.fakes.pytest_plugin import fake_daraja  # noqa: F401
from support import services
from support.models import AgentAvailability, SupportTicket, TicketStatus

CHROMIUM = Path(os.environ.get("DW_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser(monkeypatch):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (apt-get install -y chromium)")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls stay synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(autouse=True)
def _close_server_connections(monkeypatch):
    # live_server answers each request in a new thread; with persistent connections those threads would
    # leave sessions open and block dropping the test database.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)


@pytest.fixture
def admin_page(browser, live_server, admin_user):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/admin/")
    page.fill("input[name=username]", admin_user.email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    assert "/admin/login" not in page.url
    yield page
    context.close()


def _run_action(page, url: str, row_ids: list[int], action: str) -> None:
    page.goto(url)
    for row_id in row_ids:
        page.check(f"input[name=_selected_action][value='{row_id}']")
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


def test_admin_login_rejects_wrong_password(browser, live_server, admin_user):
    page = browser.new_page()
    page.goto(f"{live_server.url}/admin/")
    page.fill("input[name=username]", admin_user.email)
    page.fill("input[name=password]", "not-the-password")
    page.click("input[type=submit]")
    assert page.locator(".errornote").is_visible()
    page.close()


def test_admin_assigns_and_changes_ticket_status(admin_page, live_server, customer, support_agent):
    AgentAvailability.objects.create(agent=support_agent, is_available=False)
    ticket = services.ticket_create(
        created_by=customer, subject="Fundi hakufika", description="No show", category="booking"
    )
    assert ticket.assigned_to is None

    changelist = f"{live_server.url}/admin/support/supportticket/"
    _run_action(admin_page, changelist, [ticket.pk], "assign_tickets")
    admin_page.select_option("select[name=agent]", str(support_agent.pk))
    admin_page.click("input[name=apply]")
    admin_page.wait_for_selector(".messagelist .success")
    assert "Assigned 1 ticket(s)." in admin_page.inner_text(".messagelist")

    _run_action(admin_page, changelist, [ticket.pk], "change_status")
    admin_page.select_option("select[name=status]", TicketStatus.RESOLVED)
    admin_page.fill("textarea[name=note]", "Technician rebooked")
    admin_page.fill("textarea[name=resolution]", "Rebooked with Otieno for Saturday")
    admin_page.click("input[name=apply]")
    admin_page.wait_for_selector(".messagelist .success")

    ticket = SupportTicket.objects.get(pk=ticket.pk)
    assert ticket.assigned_to_id == support_agent.pk
    assert ticket.status == TicketStatus.RESOLVED
    assert ticket.resolution == "Rebooked with Otieno for Saturday"
    assert ticket.status_history.last().note == (
        "Technician rebooked\nResolution: Rebooked with Otieno for Saturday"
    )
    assert "Rebooked with Otieno for Saturday" in admin_page.inner_text("#result_list")


def test_admin_approves_kyc(admin_page, live_server):
    user = TechnicianFactory(skill=False, email="kyc@example.co.ke", phone_number="+254799000111")
    profile = TechnicianProfile.objects.get(user=user)
    TechnicianProfile.objects.filter(pk=profile.pk).update(
        kyc_status=KycStatus.PENDING, national_id_number="12345678"
    )

    _run_action(
        admin_page,
        f"{live_server.url}/admin/accounts/technicianprofile/",
        [profile.pk],
        "approve_kyc",
    )
    admin_page.wait_for_selector(".messagelist .success")

    profile.refresh_from_db()
    assert profile.kyc_status == KycStatus.APPROVED
    assert KycReview.objects.filter(profile=profile, to_status=KycStatus.APPROVED).count() == 1


@pytest.mark.usefixtures("fake_daraja")
def test_admin_batch_processes_payouts(admin_page, live_server, admin_user, technician, customer):
    held = []
    for amount in ("60000", "75000"):  # above the review threshold: held for staff
        booking = BookingFactory(
            customer=customer, technician=technician, price=Decimal(amount), status="confirmed"
        )
        held.append(
            Payout.objects.create(
                kind=PayoutKind.TECHNICIAN_PAYOUT,
                channel=PayoutChannel.MPESA,
                booking=booking,
                recipient=technician,
                phone=technician.phone_number,
                amount=booking.technician_share,
                status=PayoutStatus.PENDING_REVIEW,
                review_reason="above review threshold",
            )
        )

    _run_action(
        admin_page,
        f"{live_server.url}/admin/payments/payout/?status__exact=pending_review",
        [p.pk for p in held],
        "process_selected_payouts",
    )
    admin_page.wait_for_selector(".messagelist .success")
    assert "2 payout(s) processed." in admin_page.inner_text(".messagelist")

    for payout in held:
        payout.refresh_from_db()
        assert payout.status != PayoutStatus.PENDING_REVIEW
        assert payout.approved_by_id == admin_user.pk
        assert payout.status_history.filter(
            from_status=PayoutStatus.PENDING_REVIEW, to_status=PayoutStatus.QUEUED
        ).exists()
