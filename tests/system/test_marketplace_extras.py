"""Issue 18's features as deployed: a tip paid by M-Pesa and paid out, the workmanship guarantee, a feature-phone
technician answering a job offer by SMS, and beat expiring proposals. Each drives the session's real processes
(tests/system/conftest.py) over HTTP and WebSockets; the workflows' rules are tested in-process, here what
crosses a process boundary (a callback reaching the web process, the worker's B2C and SMS, beat's schedule,
a live event from the worker to a socket on another instance)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from django.utils import timezone
from websockets.sync.client import connect

from featurephone.africastalking import inbound_sms_form
from tests.system.conftest import AFRICASTALKING_CALLBACK_TOKEN, System
from tests.system.helpers import (
    CUSTOMER,
    TECHNICIAN,
    b2c_requests_for,
    bearer,
    create_booking,
    read_booking,
    receive_event,
    user_id,
)

TECHNICIAN_PHONE = "+254700000002"  # the demo technician's verified number (accounts/demo.py)


def _confirmed_booking(system: System, customer: dict, *, days_ahead: int) -> dict:
    """A booking whose job is done and confirmed by the customer. The steps to get there (deposit by STK,
    accept ... complete, confirm) are proven elsewhere in this tier; here the job simply is confirmed."""
    booking = create_booking(system, customer, days_ahead=days_ahead)
    system.sql(
        "UPDATE bookings_booking SET status = 'confirmed', deposit_paid_at = now(),"
        " completed_at = now(), confirmed_at = now() WHERE id = %s",
        (booking["id"],),
    )
    return booking


def _slot(days_ahead: int, hour: int) -> str:
    start = (timezone.localtime() + timedelta(days=days_ahead)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )
    return start.isoformat()


def _my_payouts(system: System, technician: dict) -> dict:
    response = httpx.get(
        f"{system.web_b}/api/v1/payments/payouts/my-payouts",
        headers=bearer(technician),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_tip_paid_by_mpesa_shows_in_the_technicians_earnings_and_is_paid_out_at_once(system):
    customer, technician = system.login(CUSTOMER), system.login(TECHNICIAN)
    booking = _confirmed_booking(system, customer, days_ahead=11)
    response = httpx.post(
        f"{system.web_a}/api/v1/bookings/{booking['id']}/tips",
        headers={**bearer(customer), "Idempotency-Key": f"tip-{booking['id']}"},
        json={"amount": "600.00"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    tip = response.json()
    assert (tip["purpose"], tip["amount"], tip["status"]) == ("tip", "600.00", "pending")
    push = system.daraja.stk[tip["checkoutRequestId"]]["body"]
    assert push["Amount"] == 600

    # The customer enters the PIN; Safaricom posts the result to the URL the web process gave it.
    callback = httpx.post(
        push["CallBackURL"],
        json=system.daraja.stk_callback_payload(tip["checkoutRequestId"], "0"),
        timeout=30,
    )
    assert callback.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}

    # KES 600 is at least TIP_PAYOUT_AT_ONCE_KES: the worker sends it to the technician by B2C at once.
    (payout_id,) = system.wait_for(
        lambda: next(
            iter(
                system.sql(
                    "SELECT id FROM payments_payout WHERE kind = 'tip' AND source_payment_id = %s",
                    (tip["id"],),
                )
            ),
            None,
        ),
        timeout=30,
        what="the tip's payout",
    )
    (b2c,) = system.wait_for(
        lambda: b2c_requests_for(system, payout_id),
        timeout=30,
        what="the worker to send the tip by B2C",
    )
    assert (b2c["Amount"], b2c["PartyB"]) == (600, TECHNICIAN_PHONE.lstrip("+"))
    earnings = _my_payouts(system, technician)
    assert (earnings["totals"]["tipsReceived"], earnings["totals"]["tipsAwaitingPayout"]) == (
        "600.00",
        "600.00",
    )

    # M-Pesa's B2C result reaches the web process; the technician sees the tip paid.
    result = httpx.post(
        b2c["ResultURL"],
        json=system.daraja.b2c_result_payload(b2c["OriginatorConversationID"], "0"),
        timeout=30,
    )
    assert result.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    earnings = _my_payouts(system, technician)
    (paid,) = [row for row in earnings["results"] if row["id"] == payout_id]
    assert (paid["kind"], paid["amount"], paid["status"], paid["bookingId"]) == (
        "tip",
        "600.00",
        "paid",
        booking["id"],
    )
    assert (earnings["totals"]["tipsReceived"], earnings["totals"]["tipsAwaitingPayout"]) == (
        "600.00",
        "0.00",
    )
    assert len(b2c_requests_for(system, payout_id)) == 1


def _notification_types(system: System, tokens: dict, booking_id: int) -> list[str]:
    response = httpx.get(f"{system.web_b}/api/v1/notifications", headers=bearer(tokens), timeout=10)
    assert response.status_code == 200, response.text
    return [
        row["type"]
        for row in response.json()["results"]
        if row["type"].startswith("guarantee.") and row["data"].get("bookingId") == booking_id
    ]


def test_a_guarantee_claim_accepted_with_a_return_visit_reaches_the_customer(system):
    customer, technician = system.login(CUSTOMER), system.login(TECHNICIAN)
    technician_id = user_id(system, TECHNICIAN)
    booking = _confirmed_booking(system, customer, days_ahead=12)
    claims_url = f"{system.web_a}/api/v1/bookings/{booking['id']}/guarantee-claims"
    visit_start = _slot(20, 14)
    with connect(system.ws_url(system.web_b, customer["access"])) as socket:
        receive_event(socket, until_type="ready")
        opened = httpx.post(
            claims_url,
            headers=bearer(customer),
            json={"description": "The sink leaks again under the trap."},
            timeout=30,
        )
        assert opened.status_code == 201, opened.text
        claim = opened.json()
        assert claim["status"] == "open"
        # The technician answers with a return visit.
        accepted = httpx.post(
            f"{claims_url}/{claim['id']}/accept",
            headers=bearer(technician),
            json={"visitStart": visit_start},
            timeout=30,
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["status"] == "scheduled"
        heard = [
            receive_event(socket, until_type="booking.guarantee_claim_changed")["data"]
            for _ in (1, 2)
        ]
    assert [(e["claimId"], e["status"], e["actorId"]) for e in heard] == [
        (claim["id"], "open", customer["user"]["id"]),
        (claim["id"], "scheduled", technician_id),
    ]
    # Each step's notification, written by a task on the worker, went to the party who did not act.
    system.wait_for(
        lambda: _notification_types(system, customer, booking["id"])
        and _notification_types(system, technician, booking["id"]),
        timeout=30,
        what="the worker's guarantee notifications",
    )
    assert _notification_types(system, technician, booking["id"]) == ["guarantee.claim_opened"]
    assert _notification_types(system, customer, booking["id"]) == ["guarantee.visit_scheduled"]

    # The customer, on the other instance, reads the return visit from the claim.
    listing = httpx.get(
        f"{system.web_b}/api/v1/bookings/{booking['id']}/guarantee-claims",
        headers=bearer(customer),
        timeout=10,
    )
    assert listing.status_code == 200, listing.text
    (seen,) = listing.json()["results"]
    assert (seen["id"], seen["status"]) == (claim["id"], "scheduled")
    assert datetime.fromisoformat(seen["visitStart"]) == datetime.fromisoformat(visit_start)


@pytest.fixture
def sms_offers(system: System) -> Iterator[int]:
    """The demo technician gets job offers by SMS on their verified phone, for this test only."""
    technician = system.login(TECHNICIAN)
    url = f"{system.web_a}/api/v1/users/me/feature-phone"
    enrolled = httpx.put(url, headers=bearer(technician), json={}, timeout=30)
    assert enrolled.status_code == 200, enrolled.text
    assert enrolled.json()["isEnrolled"] is True
    yield user_id(system, TECHNICIAN)
    stopped = httpx.delete(url, headers=bearer(technician), timeout=30)
    assert stopped.status_code == 204, stopped.text


def _sms_to_technician(system: System, pattern: str) -> list[str]:
    """What the worker texted the technician (the console SMS backend logs each message)."""
    sent = re.escape(f"SMS to {TECHNICIAN_PHONE}: ")
    return re.findall(sent + pattern, system.processes["worker"].output())


def test_a_feature_phone_technician_accepts_an_offer_by_sms_once_however_often_it_arrives(
    system, sms_offers
):
    customer = system.login(CUSTOMER)
    booking = create_booking(system, customer, days_ahead=14)
    number = re.escape(booking["number"])
    (code,) = system.wait_for(
        lambda: _sms_to_technician(system, rf"Dumu Waks job {number}:[^\n]*Reply YES (\d{{4}})"),
        timeout=30,
        what="the worker to text the job offer with its code",
    )
    # The deposit (which the accept step requires) is proven elsewhere in this tier; here it is simply paid.
    system.sql(
        "UPDATE bookings_booking SET deposit_paid_at = now() WHERE id = %s", (booking["id"],)
    )
    answer = inbound_sms_form(phone=TECHNICIAN_PHONE, text=f"yes {code}")

    forged = httpx.post(
        f"{system.web_a}/api/v1/sms/inbound",
        params={"token": "not-the-token"},
        data=answer,
        timeout=30,
    )
    assert forged.status_code == 403
    assert read_booking(system, customer, booking["id"])["status"] == "pending"

    # Africa's Talking delivers the answer, then delivers it again (to another instance). The customer,
    # in the app on the other instance, hears the acceptance as if the technician had tapped Accept.
    with connect(system.ws_url(system.web_b, customer["access"])) as socket:
        receive_event(socket, until_type="ready")
        first = httpx.post(
            f"{system.web_a}/api/v1/sms/inbound",
            params={"token": AFRICASTALKING_CALLBACK_TOKEN},
            data=answer,
            timeout=30,
        )
        assert (first.status_code, first.json()) == (200, {"status": "processed"})
        changed = receive_event(socket, until_type="booking.status_changed")["data"]
    assert (changed["bookingId"], changed["fromStatus"], changed["toStatus"]) == (
        booking["id"],
        "pending",
        "accepted",
    )
    assert changed["actorId"] == sms_offers
    assert read_booking(system, customer, booking["id"])["status"] == "accepted"
    again = httpx.post(
        f"{system.wsgi}/api/v1/sms/inbound",
        params={"token": AFRICASTALKING_CALLBACK_TOKEN},
        data=answer,
        timeout=30,
    )
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})

    assert system.sql(
        "SELECT from_status, to_status, actor_id, note FROM bookings_bookingstatushistory"
        " WHERE booking_id = %s AND to_status = 'accepted'",
        (booking["id"],),
    ) == [("pending", "accepted", sms_offers, "via sms")]
    system.wait_for(
        lambda: system.sql(
            "SELECT outcome FROM featurephone_inboundsms WHERE provider_message_id = %s"
            " AND reply_sent_at IS NOT NULL",
            (answer["id"],),
        ),
        timeout=30,
        what="the worker to text the technician the confirmation",
    )
    assert len(_sms_to_technician(system, rf"You accepted job {number} ")) == 1


def test_beat_expires_proposals_past_their_deadline_and_both_parties_hear_it_live(system):
    customer, technician = system.login(CUSTOMER), system.login(TECHNICIAN)
    # A quote on a pending request, and a reschedule proposal on an accepted booking.
    quoted = create_booking(system, customer, days_ahead=15)
    quote = httpx.post(
        f"{system.web_a}/api/v1/bookings/{quoted['id']}/quotes",
        headers=bearer(technician),
        json={"price": "2500.00", "note": "The trap and both valves need replacing."},
        timeout=30,
    )
    assert quote.status_code == 201, quote.text
    moved = create_booking(system, customer, days_ahead=16)
    system.sql("UPDATE bookings_booking SET deposit_paid_at = now() WHERE id = %s", (moved["id"],))
    accepted = httpx.post(
        f"{system.web_a}/api/v1/bookings/{moved['id']}/accept",
        headers=bearer(technician),
        timeout=30,
    )
    assert accepted.status_code == 200, accepted.text
    reschedule = httpx.post(
        f"{system.web_a}/api/v1/bookings/{moved['id']}/reschedule-proposals",
        headers=bearer(technician),
        json={"scheduledStart": _slot(17, 10), "reason": "A spare part arrives a day later."},
        timeout=30,
    )
    assert reschedule.status_code == 201, reschedule.text
    proposals = {quote.json()["id"]: "quote", reschedule.json()["id"]: "reschedule"}

    with connect(system.ws_url(system.web_b, customer["access"])) as socket:
        receive_event(socket, until_type="ready")
        # A day passes unanswered: what both proposals look like after their deadline.
        system.sql(
            "UPDATE bookings_bookingproposal SET expires_at = now() - interval '1 minute'"
            " WHERE id = ANY(%s)",
            (list(proposals),),
        )
        heard = {}
        while len(heard) < len(proposals):
            event = receive_event(socket, until_type="booking.proposal_changed", timeout=30)["data"]
            heard[event["proposalId"]] = (event["kind"], event["status"], event["actorId"])
    assert heard == {
        proposal_id: (kind, "expired", None) for proposal_id, kind in proposals.items()
    }

    for booking, path in ((quoted, "quotes"), (moved, "reschedule-proposals")):
        listing = httpx.get(
            f"{system.web_b}/api/v1/bookings/{booking['id']}/{path}",
            headers=bearer(customer),
            timeout=10,
        )
        assert listing.status_code == 200, listing.text
        (proposal,) = listing.json()["results"]
        assert proposal["status"] == "expired"
        assert proposal["history"][-1]["note"] == "Not answered in time."
    # The reschedule never happened: the booking keeps its time.
    assert read_booking(system, customer, moved["id"])["scheduledStart"] == moved["scheduledStart"]
