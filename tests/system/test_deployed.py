"""The deployed system behaves as tested: each test here reproduces, on the real processes, something that
was green in-process and broken as deployed (issue 14)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from urllib.parse import urljoin

import httpx
import pytest
import redis
from django.utils import timezone
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.system.conftest import BIN, PROJECT_ROOT, REDIS_URL, System
from tests.system.helpers import (
    CUSTOMER,
    TECHNICIAN,
    bearer,
    create_booking,
    pay_deposit,
    read_booking,
    receive_event,
    stk_push_for,
)


def test_beat_expires_a_pending_booking_whose_deposit_is_overdue(system):
    """Beat once scheduled nothing (an empty CELERY_BEAT_SCHEDULE shadowed every app's entries)."""
    customer = system.login(CUSTOMER)
    booking = create_booking(system, customer, days_ahead=3)
    assert booking["status"] == "pending"
    # The deposit window (30 min) passes: what an unpaid booking looks like half an hour later.
    system.sql(
        "UPDATE bookings_booking SET payment_due_at = now() - interval '1 minute' WHERE id = %s",
        (booking["id"],),
    )
    system.wait_for(
        lambda: read_booking(system, customer, booking["id"])["status"] == "expired",
        timeout=30,
        what="beat's expire job to expire the booking",
    )


def test_a_lost_stk_callback_is_resolved_by_the_scheduled_stk_query(system):
    customer = system.login(CUSTOMER)
    booking = create_booking(system, customer, days_ahead=4)
    checkout_id = stk_push_for(system, booking)
    time.sleep(2)  # the query job has asked at least once while the customer had not answered
    assert read_booking(system, customer, booking["id"])["depositPaidAt"] is None

    # The customer pays on the phone; Safaricom's callback never reaches us. Only STK Query can tell.
    system.daraja.resolve_stk(checkout_id, "0")
    paid = system.wait_for(
        lambda: read_booking(system, customer, booking["id"])["depositPaidAt"],
        timeout=30,
        what="the STK Query job to credit the deposit",
    )
    assert paid
    assert system.daraja.requests_to("/mpesa/stkpushquery/v1/query")


def _money(system: System, tokens: dict, booking_id: int) -> dict:
    return read_booking(system, tokens, booking_id)["money"]


def test_beat_reminds_an_unpaid_balance_with_a_new_prompt_then_hands_it_to_support(system):
    """Balance collection (payments-balance-collection) runs from beat, as deployed."""
    customer = system.login(CUSTOMER)
    booking = create_booking(system, customer, days_ahead=6)
    booking_id = booking["id"]
    pay_deposit(system, customer, booking)
    # The job is done and confirmed (the workflow is tested in-process); the customer asks for the balance
    # prompt in the app and cancels it on the phone.
    system.sql(
        "UPDATE bookings_booking SET status = 'confirmed', completed_at = now(), confirmed_at = now()"
        " WHERE id = %s",
        (booking_id,),
    )
    response = httpx.post(
        f"{system.web_a}/api/v1/payments/mpesa/stk-push",
        headers={**bearer(customer), "Idempotency-Key": f"balance-{booking_id}-app"},
        json={"bookingId": booking_id, "purpose": "balance"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    cancelled = response.json()
    system.daraja.resolve_stk(cancelled["checkoutRequestId"], "1032")
    due = system.wait_for(
        lambda: (money := _money(system, customer, booking_id))["nextAction"] == "pay_balance"
        and money,
        timeout=30,
        what="the STK Query job to find the balance prompt cancelled",
    )
    assert (due["balance"]["status"], due["amountDueNow"], due["pendingPayment"]) == (
        "due",
        "1600.00",
        None,
    )

    # A day later beat's reminder sends a new prompt: a new attempt under the automatic key.
    system.sql(
        "UPDATE bookings_booking SET confirmed_at = now() - interval '1 day 1 minute' WHERE id = %s",
        (booking_id,),
    )
    waiting = system.wait_for(
        lambda: (money := _money(system, customer, booking_id))["pendingPayment"] and money,
        timeout=30,
        what="beat's balance reminder to send a new prompt",
    )
    assert waiting["nextAction"] == "wait_for_prompt"
    prompt = waiting["pendingPayment"]
    assert prompt["id"] != cancelled["id"] and prompt["purpose"] == "balance"
    assert system.sql(
        "SELECT idempotency_key FROM payments_payment WHERE id = %s", (prompt["id"],)
    ) == [(f"auto-balance-{booking_id}-1",)]
    reminders = system.wait_for(
        lambda: system.sql(
            "SELECT n.type FROM notifications_notification n JOIN bookings_booking b"
            " ON b.customer_id = n.user_id WHERE b.id = %s AND n.type LIKE %s",
            (booking_id, "payment.balance%"),
        ),
        timeout=30,
        what="the reminder notification (its own task, after the prompt)",
    )
    assert reminders == [("payment.balance_prompt",)]

    # A week after confirmation it is still unpaid: support takes it over, once.
    system.sql(
        "UPDATE bookings_booking SET confirmed_at = now() - interval '8 days' WHERE id = %s",
        (booking_id,),
    )
    system.sql(
        "UPDATE payments_balancecollection SET due_since = now() - interval '8 days'"
        " WHERE booking_id = %s",
        (booking_id,),
    )
    system.wait_for(
        lambda: _money(system, customer, booking_id)["balanceOverdue"],
        timeout=30,
        what="beat to hand the overdue balance to support",
    )
    time.sleep(2)  # beat keeps running: still one ticket
    tickets = system.sql(
        "SELECT subject, category FROM support_supportticket WHERE related_booking_id = %s",
        (booking_id,),
    )
    assert tickets == [(f"Balance overdue: {booking['number']}", "payment")]


def _static_urls(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


@pytest.mark.parametrize("server", ["web_a", "wsgi"])
def test_admin_css_and_the_api_docs_load_from_the_app_itself(system, server):
    """The admin had no CSS under `make run`; Swagger UI and ReDoc came from a CDN (blank offline)."""
    base = getattr(system, server)
    pages = {
        "/admin/login/": "admin/css/base",
        "/api-docs": "swagger-ui-dist/swagger-ui-bundle",
        "/api/redoc/": "redoc/bundles/redoc.standalone",
    }
    for page, expected_asset in pages.items():
        response = httpx.get(f"{base}{page}", timeout=10)
        assert response.status_code == 200, (page, response.text[:500])
        assets = _static_urls(response.text)
        assert any(expected_asset in url for url in assets), (page, assets)
        assert "cdn.jsdelivr.net" not in response.text and "unpkg.com" not in response.text
        for url in assets:
            asset = httpx.get(urljoin(base, url), timeout=10)
            assert asset.status_code == 200, url
            assert len(asset.content) > 100, url
    css = httpx.get(f"{base}/static/admin/css/base.css", timeout=10)
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize("server", ["web_a", "wsgi"])
def test_unknown_api_paths_answer_the_json_error_body(system, server):
    response = httpx.post(f"{getattr(system, server)}/api/v1/no-such-thing", json={}, timeout=10)
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found."}


def test_health_reports_the_staging_opt_in_and_what_it_accepted(system):
    body = httpx.get(f"{system.web_a}/health", timeout=10).json()
    assert body["insecureStaging"] is True
    assert {"MPESA_BACKEND", "MPESA_BASE_URL_OVERRIDE", "SMS_BACKEND"} <= set(
        body["insecureSettings"]
    )


def test_production_entry_points_refuse_to_start_misconfigured(system):
    """Without the staging opt-in the same environment (simulator-like fakes, console SMS and email) stops
    every process at start, naming the variables, instead of serving."""
    env = {k: v for k, v in system.env.items() if k not in {"INSECURE_STAGING", "NUM_PROXIES"}}
    del env["DJANGO_SETTINGS_MODULE"]  # the entry points' own default must be production
    commands = {
        "uvicorn": [str(BIN / "uvicorn"), "dumuwaks.asgi:application", "--port", "0"],
        "gunicorn": [str(BIN / "gunicorn"), "dumuwaks.wsgi:application", "-b", "127.0.0.1:0"],
        "celery worker": [str(BIN / "celery"), "-A", "dumuwaks", "worker", "-P", "solo"],
        "celery beat": [str(BIN / "celery"), "-A", "dumuwaks", "beat", "-s", "/dev/null"],
    }
    started = {
        name: subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, command in commands.items()
    }
    for name, process in started.items():
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail(f"{name} started with misconfigured production settings")
        assert process.returncode != 0, (name, output[-2000:])
        assert "Production settings refuse to start" in output, (name, output[-2000:])
        for variable in ("MPESA_BACKEND", "SMS_BACKEND", "NUM_PROXIES", "INSECURE_STAGING=true"):
            assert variable in output, (name, variable)


def test_check_deploy_lists_what_the_staging_opt_in_accepted(system):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=PROJECT_ROOT,
        env=system.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "dumuwaks.W001" in result.stdout + result.stderr


def test_logout_through_one_instance_closes_the_socket_held_by_another(system):
    tokens = system.login(CUSTOMER)
    with connect(system.ws_url(system.web_b, tokens["access"])) as socket:
        receive_event(socket, until_type="ready")
        logout = httpx.post(
            f"{system.web_a}/api/v1/auth/logout",
            headers=bearer(tokens),
            json={"refresh": tokens["refresh"]},
            timeout=10,
        )
        assert logout.status_code in (200, 204), logout.text
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                socket.recv(timeout=15)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_a_chat_message_sent_through_instance_a_reaches_a_socket_on_instance_b(system):
    """The horizontal-scale claim of docs/operations.md: fan-out goes through the Redis channel layer."""
    customer = system.login(CUSTOMER)
    technician = system.login(TECHNICIAN)
    booking = create_booking(system, customer, days_ahead=5)
    conversation = httpx.post(
        f"{system.web_a}/api/v1/conversations",
        headers=bearer(customer),
        json={"bookingId": booking["id"]},
        timeout=10,
    )
    assert conversation.status_code in (200, 201), conversation.text
    conversation_id = conversation.json()["id"]

    with connect(system.ws_url(system.web_b, customer["access"])) as socket:
        receive_event(socket, until_type="ready")
        socket.send(json.dumps({"action": "join", "conversationId": conversation_id}))
        receive_event(socket, until_type="joined")
        sent = httpx.post(
            f"{system.web_a}/api/v1/messages",
            headers=bearer(technician),
            json={"conversationId": conversation_id, "body": "Nitafika saa nne asubuhi."},
            timeout=10,
        )
        assert sent.status_code == 201, sent.text
        event = receive_event(socket, until_type="message.new")
    assert "Nitafika saa nne asubuhi." in json.dumps(event)


def test_a_position_sent_to_instance_a_reaches_the_customer_following_on_instance_b(system):
    """Live job tracking fans out through the Redis channel layer, and its end (a REST call on instance A,
    after commit) reaches the follower on instance B and deletes the position from Redis."""
    customer = system.login(CUSTOMER)
    technician = system.login(TECHNICIAN)
    booking = create_booking(system, customer, days_ahead=9)
    booking_id = booking["id"]
    # The deposit is proven elsewhere in this tier; here it is simply paid. The job's coordinates give an ETA.
    system.sql(
        "UPDATE bookings_booking SET deposit_paid_at = now(), latitude = -1.2921, longitude = 36.8219 "
        "WHERE id = %s",
        (booking_id,),
    )
    for action in ("accept", "en-route"):
        response = httpx.post(
            f"{system.web_a}/api/v1/bookings/{booking_id}/{action}",
            headers=bearer(technician),
            timeout=10,
        )
        assert response.status_code == 200, response.text

    with (
        connect(system.ws_url(system.web_b, customer["access"])) as follower,
        connect(system.ws_url(system.web_a, technician["access"])) as sender,
    ):
        receive_event(follower, until_type="ready")
        receive_event(sender, until_type="ready")
        follower.send(json.dumps({"action": "tracking.subscribe", "bookingId": booking_id}))
        subscribed = receive_event(follower, until_type="tracking.subscribed")
        assert subscribed["data"] == {
            "bookingId": booking_id,
            "status": "en_route",
            "position": None,
        }
        sender.send(
            json.dumps(
                {
                    "action": "location.update",
                    "bookingId": booking_id,
                    "lat": -1.2800,
                    "lng": 36.8100,
                    "accuracy": 10,
                    "recordedAt": timezone.now().isoformat(),
                }
            )
        )
        receive_event(sender, until_type="location.ack")
        position = receive_event(follower, until_type="location.updated")["data"]
        assert (position["bookingId"], position["lat"], position["lng"]) == (
            booking_id,
            -1.28,
            36.81,
        )
        assert 1850 < position["distanceMeters"] < 1950 and position["etaSeconds"] >= 120

        for action in ("arrived", "start"):
            response = httpx.post(
                f"{system.web_a}/api/v1/bookings/{booking_id}/{action}",
                headers=bearer(technician),
                timeout=10,
            )
            assert response.status_code == 200, response.text
        ended = receive_event(follower, until_type="tracking.ended")
        assert ended["data"] == {"bookingId": booking_id, "status": "in_progress"}

    client = redis.Redis.from_url(REDIS_URL)
    try:
        pattern = f"{system.env['CACHE_KEY_PREFIX']}:*tracking:position:{booking_id}"
        assert list(client.scan_iter(match=pattern)) == []
    finally:
        client.close()
