"""Payout endpoints: pending list (staff), detail (recipient/staff), process + batch (admins), my-payouts."""

from decimal import Decimal

import pytest
from django.test import Client

from bookings.models import BookingStatus
from payments import rules as payments_rules
from payments.models import Payout, PayoutStatus
from payments.services.payouts import payout_process, payout_send
from payments.tests.factories import PaymentFactory, PayoutFactory
from payments.tests.fakes.daraja import PATH_B2C
from payments.tests.helpers import make_booking, paid_payment, payout_result, set_status

pytestmark = pytest.mark.django_db


def _payout_for(booking, *, held: bool, monkeypatch) -> Payout:
    if held:
        monkeypatch.setattr(payments_rules, "PAYOUT_REVIEW_THRESHOLD_KES", 1000)
    paid_payment(booking)
    set_status(booking, BookingStatus.CONFIRMED)
    paid_payment(booking, "balance")
    return Payout.objects.get(booking=booking)


@pytest.fixture
def held_payout(booking, monkeypatch):
    payout = _payout_for(booking, held=True, monkeypatch=monkeypatch)
    assert payout.status == PayoutStatus.PENDING_REVIEW
    return payout


def test_pending_list_is_for_staff(held_payout, support_client, technician_client):
    body = support_client.get("/api/v1/payments/payouts/pending").json()
    assert [row["id"] for row in body["results"]] == [held_payout.pk]
    assert body["results"][0]["reviewReason"]
    assert technician_client.get("/api/v1/payments/payouts/pending").status_code == 403


def test_payout_detail_for_recipient_and_staff_only(
    held_payout, technician_client, other_technician_client, support_client, customer_client
):
    url = f"/api/v1/payments/payouts/{held_payout.pk}"
    assert technician_client.get(url).json()["amount"] == "4250.00"
    assert support_client.get(url).status_code == 200
    assert other_technician_client.get(url).status_code == 404
    assert customer_client.get(url).status_code == 404


def test_admin_approves_a_held_payout_and_it_is_sent(
    mpesa, held_payout, admin_client_api, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_api.post(f"/api/v1/payments/payouts/{held_payout.pk}/process")
    assert response.status_code == 200
    held_payout.refresh_from_db()
    assert held_payout.status == PayoutStatus.AWAITING_RESULT
    assert held_payout.approved_by_id == admin_user.pk
    assert len(mpesa.requests_to(PATH_B2C)) == 1
    # Processing again is a conflict and sends nothing.
    response = admin_client_api.post(f"/api/v1/payments/payouts/{held_payout.pk}/process")
    assert response.status_code == 409
    assert response.json()["code"] == "payout_not_processable"
    assert len(mpesa.requests_to(PATH_B2C)) == 1


def test_support_agents_and_technicians_cannot_move_money(
    mpesa, held_payout, support_client, technician_client
):
    for client in (support_client, technician_client):
        assert client.post(f"/api/v1/payments/payouts/{held_payout.pk}/process").status_code == 403
        response = client.post(
            "/api/v1/payments/payouts/batch-process", {"payoutIds": [held_payout.pk]}
        )
        assert response.status_code == 403
    held_payout.refresh_from_db()
    assert held_payout.status == PayoutStatus.PENDING_REVIEW
    assert mpesa.requests_to(PATH_B2C) == []


def test_process_unknown_payout_is_404(admin_client_api):
    assert admin_client_api.post("/api/v1/payments/payouts/999999/process").status_code == 404


def test_batch_process_reports_each_payout(
    mpesa,
    held_payout,
    customer,
    technician,
    service_category,
    admin_client_api,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    second = _payout_for(
        make_booking(customer, technician, category=service_category),
        held=True,
        monkeypatch=monkeypatch,
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_api.post(
            "/api/v1/payments/payouts/batch-process",
            {"payoutIds": [held_payout.pk, second.pk, 999999]},
        )
    assert response.status_code == 200
    results = {row["id"]: row for row in response.json()["results"]}
    assert results[held_payout.pk]["ok"] is True
    assert results[second.pk]["ok"] is True
    assert results[999999] == {"id": 999999, "ok": False, "status": "", "code": "payout_not_found"}
    assert len(mpesa.requests_to(PATH_B2C)) == 2


def test_batch_process_validation(admin_client_api):
    response = admin_client_api.post("/api/v1/payments/payouts/batch-process", {"payoutIds": []})
    assert response.status_code == 400


def test_my_payouts_with_totals(
    mpesa, held_payout, technician_client, customer_client, anon_client, admin_user
):
    payout_process(payout_id=held_payout.pk, actor=admin_user)
    payout_send(payout_id=held_payout.pk)
    body = technician_client.get("/api/v1/payments/payouts/my-payouts").json()
    assert body["count"] == 1
    assert body["totals"]["totalPaid"] == "0.00"
    assert body["totals"]["totalInProgress"] == "4250.00"
    assert body["totals"]["payableBalance"] == "4250.00"
    payout_result(payout_id=held_payout.pk, paid=True, result_code="0", result_desc="ok")
    body = technician_client.get("/api/v1/payments/payouts/my-payouts").json()
    assert body["totals"]["totalPaid"] == "4250.00"
    assert body["totals"]["payableBalance"] == "0.00"
    assert Decimal(body["results"][0]["amount"]) == Decimal("4250.00")
    assert customer_client.get("/api/v1/payments/payouts/my-payouts").status_code == 403


def test_admin_action_processes_selected_payouts(
    mpesa, held_payout, admin_user, django_capture_on_commit_callbacks
):
    client = Client()
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/payments/payout/",
            {"action": "process_selected_payouts", "_selected_action": [held_payout.pk]},
        )
    assert response.status_code == 302
    held_payout.refresh_from_db()
    assert held_payout.status == PayoutStatus.AWAITING_RESULT
    assert client.get("/admin/payments/payout/?status__exact=awaiting_result").status_code == 200
    assert client.get(f"/admin/payments/payout/{held_payout.pk}/change/").status_code == 200
    assert client.get("/admin/payments/ledgertransaction/").status_code == 200
    assert client.get("/admin/payments/callbackevent/").status_code == 200


def test_payout_lists_run_a_constant_number_of_queries(
    customer,
    technician,
    service_category,
    support_client,
    technician_client,
    monkeypatch,
    django_assert_max_num_queries,
):
    for _ in range(2):
        booking = make_booking(customer, technician, category=service_category)
        _payout_for(booking, held=True, monkeypatch=monkeypatch)
    with django_assert_max_num_queries(6):
        assert len(support_client.get("/api/v1/payments/payouts/pending").json()["results"]) == 2
    with django_assert_max_num_queries(9):
        body = technician_client.get("/api/v1/payments/payouts/my-payouts").json()
    assert len(body["results"]) == 2
    for _ in range(4):
        booking = make_booking(customer, technician, category=service_category)
        _payout_for(booking, held=True, monkeypatch=monkeypatch)
    with django_assert_max_num_queries(6):
        assert len(support_client.get("/api/v1/payments/payouts/pending").json()["results"]) == 6
    with django_assert_max_num_queries(9):
        body = technician_client.get("/api/v1/payments/payouts/my-payouts").json()
    assert len(body["results"]) == 6


def test_admin_action_cancels_a_held_payout(held_payout, admin_user):
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        "/admin/payments/payout/",
        {"action": "cancel_selected_payouts", "_selected_action": [held_payout.pk]},
    )
    assert response.status_code == 302
    held_payout.refresh_from_db()
    assert held_payout.status == PayoutStatus.CANCELLED
    assert held_payout.status_history.last().actor_id == admin_user.pk


def test_factories_build_valid_rows(support_client):
    payment = PaymentFactory()
    payout = PayoutFactory(booking=payment.booking)
    assert payment.payer_id == payment.booking.customer_id
    body = support_client.get("/api/v1/payments/payouts/pending").json()
    assert [row["id"] for row in body["results"]] == [payout.pk]
