"""What the system tier's tests do the same way, once: the demo personas, talking to the running processes
over HTTP and WebSockets, and reading what the fake Daraja was asked.

Every function takes the `System` under test (tests/system/conftest.py) and talks to it from outside, as a
client or an operator would; none imports the processes' code to reach a result.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
from django.utils import timezone

from payments.services.payments import payment_account_reference

if TYPE_CHECKING:  # conftest imports this module (answers_health): no import back at run time
    from websockets.sync.client import ClientConnection

    from tests.system.conftest import System

# The demo data's customer and technician (accounts/demo.py); both log in with DEMO_PASSWORD.
CUSTOMER = "customer@dumuwaks.test"
TECHNICIAN = "technician@dumuwaks.test"

# Upper bound of one HTTP call to a process under test: generous, because the tier shares two cores with the
# rest of `make test`. A call that answers returns at once; only a hung one waits this long.
HTTP_TIMEOUT = 60.0


def answers_health(base: str) -> bool:
    """Whether the web process at `base` (scheme, host and port) answers GET /health with 200 now; False
    while it is still starting (connection refused) or cannot answer."""
    try:
        return httpx.get(f"{base}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def bearer(tokens: dict) -> dict[str, str]:
    """The Authorization header for a login's `tokens` (the body of POST /auth/login)."""
    return {"Authorization": f"Bearer {tokens['access']}"}


def user_id(system: System, email: str) -> int:
    """The id of the user with this email, read from the system's database."""
    ((found,),) = system.sql("SELECT id FROM accounts_user WHERE email = %s", (email,))
    return found


def create_booking(system: System, tokens: dict, *, days_ahead: int) -> dict:
    """A plumbing booking the logged-in customer (`tokens`) requests through web instance A from the demo
    technician, `days_ahead` days from now at 10:00 local time, for an hour at KES 2,000; the 201 body.
    The booking is pending: the worker sends its deposit push (see `stk_push_for`). Each test takes a day
    of its own, so that two bookings of one run never compete for the technician's slot."""
    categories = httpx.get(f"{system.web_a}/api/v1/categories", timeout=HTTP_TIMEOUT).json()
    plumbing = next(c for c in categories["results"] if c["slug"] == "plumbing")
    start = (timezone.localtime() + timedelta(days=days_ahead)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    response = httpx.post(
        f"{system.web_a}/api/v1/bookings",
        headers=bearer(tokens),
        json={
            "categoryId": plumbing["id"],
            "title": "Kitchen sink leaking",
            "address": "Ngong Road, Nairobi",
            "scheduledStart": start.isoformat(),
            "durationMinutes": 60,
            "price": "2000.00",
            "technicianId": user_id(system, TECHNICIAN),
        },
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 201, response.text
    return response.json()


def read_booking(system: System, tokens: dict, booking_id: int) -> dict:
    """The booking as the logged-in user (`tokens`) reads it, GET /bookings/:id on web instance B: the
    other instance from the one `create_booking` writes through, so what it shows was committed and is
    seen by another process (a system with one web process serves both names)."""
    response = httpx.get(
        f"{system.web_b}/api/v1/bookings/{booking_id}", headers=bearer(tokens), timeout=HTTP_TIMEOUT
    )
    assert response.status_code == 200, response.text
    return response.json()


def stk_push_for(system: System, booking: dict, *, timeout: float = 30.0) -> str:
    """The CheckoutRequestID Daraja gave the worker's deposit push for this booking, once it was sent
    (waits up to `timeout` seconds)."""

    def pushed() -> str | None:
        # The AccountReference names the payment (DWP + its id in base 36), not the booking; the demo
        # data's other bookings get pushes of their own.
        rows = system.sql(
            "SELECT id FROM payments_payment WHERE booking_id = %s AND purpose = 'deposit'",
            (booking["id"],),
        )
        references = {payment_account_reference(payment_id) for (payment_id,) in rows}
        for checkout_id, entry in list(system.daraja.stk.items()):
            if entry["body"]["AccountReference"] in references:
                return checkout_id
        return None

    return system.wait_for(
        pushed, timeout=timeout, what=f"the deposit push of booking {booking['id']}"
    )


def pay_deposit(system: System, tokens: dict, booking: dict, *, timeout: float = 30.0) -> None:
    """The customer (`tokens`) accepts the booking's deposit push on the phone (no callback is sent: beat's
    STK Query job finds the payment and credits it); returns once the booking, read by the customer, shows
    the deposit paid (each wait up to `timeout` seconds)."""
    system.daraja.resolve_stk(stk_push_for(system, booking, timeout=timeout), "0")
    system.wait_for(
        lambda: read_booking(system, tokens, booking["id"])["depositPaidAt"],
        timeout=timeout,
        what=f"the deposit of booking {booking['id']} to be credited",
    )


def b2c_requests_for(system: System, payout_id: int) -> list[dict]:
    """The bodies of the B2C payment requests the fake Daraja received for this payout, oldest first
    (every attempt's OriginatorConversationID starts with DW-PO-<payout id>-)."""
    return [
        request.json
        for request in system.daraja.requests_to("/mpesa/b2c/v3/paymentrequest")
        if request.json["OriginatorConversationID"].startswith(f"DW-PO-{payout_id}-")
    ]


def receive_event(socket: ClientConnection, *, until_type: str, timeout: float = 15.0) -> dict:
    """The next event of type `until_type` on a realtime socket (/ws), skipping the events of other types
    before it; fails if none arrives within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {until_type} event within {timeout} s"
        event = json.loads(socket.recv(timeout=remaining))
        if event.get("type") == until_type:
            return event
