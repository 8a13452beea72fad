"""Infrastructure failing under a live request, and a Celery worker dying in the middle of paying someone.

PostgreSQL: the request's backend is really terminated (pg_terminate_backend from a second connection) in the
middle of the request. Requests go through Django's WSGI handler with the production request signals, so the
next request shows whether the process recovers by itself (it must: no restart).
Redis: the cache and the counters' client are pointed at a dead port mid-test; throttled endpoints answer 503, then recover.
"""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta

import psycopg
import pytest
import redis
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken
from werkzeug.test import Client

from bookings.models import Booking
from dumuwaks.core.cache import redis_client
from notifications.models import Message
from payments import rules as payments_rules
from payments import tasks
from payments.daraja.client import DarajaClient
from payments.models import Payment, Payout, PayoutStatus
from payments.services.payouts import payout_process, payouts_stale_ids
from payments.tests.fakes.daraja import PATH_B2C, PATH_STK_PUSH, PATH_TRANSACTION_STATUS
from payments.tests.helpers import CALLBACK_TOKEN, assert_reconciled, deliver_b2c_result_twice
from payments.tests.outage import broker_unreachable

DEAD_REDIS_URL = "redis://127.0.0.1:1/0"
DEAD_REDIS_OPTIONS = {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}
DEAD_REDIS = {
    "default": {
        "BACKEND": "dumuwaks.core.cache.BinarySafeKeysRedisCache",
        "LOCATION": DEAD_REDIS_URL,
        "OPTIONS": DEAD_REDIS_OPTIONS,
    }
}


@contextlib.contextmanager
def redis_down():
    """The cache and the counters' client (rate limits, sign-in failures, presence) both lose Redis."""
    dead_pool = redis.ConnectionPool.from_url(DEAD_REDIS_URL, **DEAD_REDIS_OPTIONS)
    live_pool = redis_client.connection_pool
    redis_client.connection_pool = dead_pool
    try:
        with override_settings(CACHES=DEAD_REDIS):
            yield
    finally:
        redis_client.connection_pool = live_pool
        dead_pool.disconnect()


def _auth(user) -> dict:
    return {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}


def _terminate_backend(pid: int) -> None:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:
        # PostgreSQL ≥ 14: wait (up to 5 s) until the backend is really gone.
        other.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])


@contextlib.contextmanager
def kill_connection_on(sql_fragment: str):
    """Terminate this thread's PostgreSQL backend right before the first query containing `sql_fragment`."""
    state = {"armed": True, "fired": False}

    def wrapper(execute, sql, params, many, context):
        if state["armed"] and sql_fragment in sql:
            state["armed"] = False
            state["fired"] = True
            _terminate_backend(context["connection"].connection.info.backend_pid)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield state


@pytest.fixture
def wsgi_client():
    """Production path: request_started/finished keep calling close_old_connections (unlike the test Client)."""
    return Client(WSGIHandler())


def _json(response):
    return json.loads(response.get_data())


@pytest.mark.django_db(transaction=True)
def test_postgres_backend_killed_mid_read_is_503_then_recovers(customer, wsgi_client):
    headers = _auth(customer)
    assert wsgi_client.get("/api/v1/bookings", headers=headers).status_code == 200

    with kill_connection_on("bookings_booking") as state:
        response = wsgi_client.get("/api/v1/bookings", headers=headers)
    assert state["fired"]
    assert response.status_code == 503
    assert _json(response)["code"] == "service_unavailable"
    assert response.headers["Retry-After"] == "5"

    # Same process, no restart: the broken connection was discarded at the end of the failed request.
    response = wsgi_client.get("/api/v1/bookings", headers=headers)
    assert response.status_code == 200
    assert _json(response)["count"] == 0


@pytest.mark.django_db(transaction=True)
def test_postgres_backend_killed_mid_write_is_503_and_writes_nothing(
    customer, service_category, wsgi_client
):
    headers = _auth(customer)
    body = {
        "categoryId": service_category.pk,
        "title": "Fix the tap",
        "address": "Kilimani",
        "scheduledStart": "2030-01-07T09:00:00+03:00",
        "durationMinutes": 60,
        "price": "3000.00",
    }
    with kill_connection_on('INSERT INTO "bookings_booking"') as state:
        response = wsgi_client.post("/api/v1/bookings", json=body, headers=headers)
    assert state["fired"]
    assert response.status_code == 503, response.get_data()[:300]
    assert _json(response)["code"] == "service_unavailable"

    connection.close()  # this (test) thread shares the connection object; start clean like a new request
    assert Booking.objects.count() == 0
    response = wsgi_client.post("/api/v1/bookings", json=body, headers=headers)
    assert response.status_code == 201, response.get_data()[:300]
    assert Booking.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_postgres_backend_killed_during_authentication_is_503(customer, wsgi_client):
    headers = _auth(customer)
    with kill_connection_on("accounts_user") as state:
        response = wsgi_client.get("/api/v1/auth/me", headers=headers)
    assert state["fired"]
    assert response.status_code == 503
    assert wsgi_client.get("/api/v1/auth/me", headers=headers).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_health_reports_and_recovers_from_a_killed_backend(wsgi_client):
    assert wsgi_client.get("/health").status_code == 200
    with kill_connection_on("SELECT 1") as state:
        response = wsgi_client.get("/health")
    assert state["fired"]
    assert response.status_code == 503
    assert wsgi_client.get("/health").status_code == 200


# --- Redis ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/api/v1/bookings", "/api/v1/auth/me", "/api/v1/notifications", "/api/v1/support/tickets"],
)
def test_redis_down_makes_throttled_endpoints_503_then_they_recover(customer_client, path):
    assert customer_client.get(path).status_code == 200
    with redis_down():
        response = customer_client.get(path)
        assert response.status_code == 503, response.content[:300]
        assert response.json()["code"] == "service_unavailable"
        assert response["Retry-After"] == "5"
    assert customer_client.get(path).status_code == 200


@pytest.mark.django_db
def test_redis_down_during_login_is_503_not_500(anon_client, customer):
    with redis_down():
        response = anon_client.post(
            "/api/v1/auth/login",
            {"email": customer.email, "password": "S3cure-Passw0rd!"},
            format="json",
        )
    assert response.status_code == 503, response.content[:300]
    response = anon_client.post(
        "/api/v1/auth/login",
        {"email": customer.email, "password": "S3cure-Passw0rd!"},
        format="json",
    )
    assert response.status_code == 200


@pytest.mark.django_db
def test_redis_down_does_not_lose_a_chat_message(world, django_capture_on_commit_callbacks):
    """The channel layer (live push) is best-effort; the message itself is stored and the API answers."""
    conversation = world.conversation
    dead_layer = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    with (
        override_settings(CHANNEL_LAYERS=dead_layer),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = world.client("customer").post(
            "/api/v1/messages",
            {"conversationId": conversation.pk, "body": "Uko wapi?"},
            format="json",
        )
    assert response.status_code in {201, 503}, response.content[:300]
    if response.status_code == 201:
        assert Message.objects.filter(conversation=conversation, body="Uko wapi?").count() == 1


# --- a Celery worker killed mid-payout -----------------------------------------------------------------------


class WorkerKilled(BaseException):
    """Stands in for SIGKILL / OOM: not an Exception, so no `except Exception` in the code under test sees it."""


@pytest.fixture
def queued_payout(world, admin_user, django_capture_on_commit_callbacks):
    """The world's held payout, approved by an admin; the send task is NOT run yet (we run it by hand)."""
    payout = world.payout
    with django_capture_on_commit_callbacks(execute=False):
        payout_process(payout_id=payout.pk, actor=admin_user)
    payout.refresh_from_db()
    assert payout.status == "queued"
    return payout


def test_worker_killed_after_b2c_sent_never_pays_twice(
    queued_payout, fake_daraja, settings, monkeypatch, client
):
    settings.MPESA_CALLBACK_TOKEN = CALLBACK_TOKEN
    real_b2c = DarajaClient.b2c_payment

    def b2c_then_die(self, **kwargs):
        real_b2c(self, **kwargs)  # the request reached Safaricom ...
        raise WorkerKilled()  # ... and the worker died before storing the answer

    monkeypatch.setattr(DarajaClient, "b2c_payment", b2c_then_die)
    with pytest.raises(WorkerKilled):
        tasks.payout_send_task.apply(args=[queued_payout.pk], throw=True)
    monkeypatch.setattr(DarajaClient, "b2c_payment", real_b2c)
    assert len(fake_daraja.requests_to(PATH_B2C)) == 1
    payout = Payout.objects.get(pk=queued_payout.pk)
    assert payout.status == "sending"

    # acks_late + reject_on_worker_lost: the broker redelivers the task, maybe more than once.
    for _ in range(2):
        outcome = tasks.payout_send_task.apply(args=[queued_payout.pk]).get()
        assert outcome.startswith("skipped_")
    assert len(fake_daraja.requests_to(PATH_B2C)) == 1

    # Safaricom's result for the one request arrives (twice: Daraja retries callbacks) → paid once.
    deliver_b2c_result_twice(fake_daraja, payout)
    assert tasks.payout_send_task.apply(args=[queued_payout.pk]).get() == "skipped_paid"
    assert len(fake_daraja.requests_to(PATH_B2C)) == 1
    assert_reconciled()


def test_worker_killed_before_b2c_sent_sends_exactly_once_on_retry(
    queued_payout, fake_daraja, monkeypatch
):
    """Died after claiming the payout but before the HTTP request: nothing left, so nothing to duplicate.
    The payout is stuck in `sending` until reconciliation asks Daraja (Transaction Status)."""

    def die_before_sending(self, **kwargs):
        raise WorkerKilled()

    real_b2c = DarajaClient.b2c_payment
    monkeypatch.setattr(DarajaClient, "b2c_payment", die_before_sending)
    with pytest.raises(WorkerKilled):
        tasks.payout_send_task.apply(args=[queued_payout.pk], throw=True)
    monkeypatch.setattr(DarajaClient, "b2c_payment", real_b2c)
    assert fake_daraja.requests_to(PATH_B2C) == []
    assert tasks.payout_send_task.apply(args=[queued_payout.pk]).get().startswith("skipped_")
    assert fake_daraja.requests_to(PATH_B2C) == []
    assert Payout.objects.get(pk=queued_payout.pk).status == "sending"


@pytest.mark.django_db(transaction=True)
def test_postgres_dies_after_the_stk_push_left_and_the_retry_sends_no_second_prompt(
    world, fake_daraja, wsgi_client
):
    """The Daraja call succeeded but storing its answer failed (503). The customer taps "pay" again:
    the open payment is returned and the phone does not get a second prompt."""
    booking = world.booking
    headers = _auth(world.customer)
    with kill_connection_on('UPDATE "payments_payment"') as state:
        response = wsgi_client.post(
            "/api/v1/payments/mpesa/stk-push",
            json={"bookingId": booking.pk, "confirmPhone": True},  # the persona is not verified
            headers=headers,
        )
    assert state["fired"]
    assert response.status_code == 503, response.get_data()[:300]
    assert len(fake_daraja.requests_to(PATH_STK_PUSH)) == 1

    connection.close()
    response = wsgi_client.post(
        "/api/v1/payments/mpesa/stk-push",
        json={"bookingId": booking.pk, "confirmPhone": True},
        headers=headers,
    )
    # The first payment is open (its prompt was sent): a second push is refused, not sent.
    assert response.status_code == 409, response.get_data()[:300]
    assert response.get_json()["code"] == "payment_pending"
    assert Payment.objects.filter(booking=booking).count() == 1
    assert len(fake_daraja.requests_to(PATH_STK_PUSH)) == 1


def test_payout_left_sending_by_a_dead_worker_is_picked_up_by_reconciliation(
    queued_payout, fake_daraja, monkeypatch, settings
):
    real_b2c = DarajaClient.b2c_payment

    def b2c_then_die(self, **kwargs):
        real_b2c(self, **kwargs)
        raise WorkerKilled()

    monkeypatch.setattr(DarajaClient, "b2c_payment", b2c_then_die)
    with pytest.raises(WorkerKilled):
        tasks.payout_send_task.apply(args=[queued_payout.pk], throw=True)
    monkeypatch.setattr(DarajaClient, "b2c_payment", real_b2c)
    long_ago = timezone.now() - timedelta(seconds=payments_rules.PAYOUT_RECONCILE_AFTER_SECONDS * 2)
    Payout.objects.filter(pk=queued_payout.pk).update(updated_at=long_ago)
    assert queued_payout.pk in payouts_stale_ids(
        older_than_seconds=payments_rules.PAYOUT_RECONCILE_AFTER_SECONDS
    )

    tasks.payouts_reconcile_stale_task.apply(throw=True)
    queued_payout.refresh_from_db()
    assert queued_payout.status == PayoutStatus.NEEDS_RECONCILIATION
    assert len(fake_daraja.requests_to(PATH_TRANSACTION_STATUS)) == 1  # asked, not resent
    assert len(fake_daraja.requests_to(PATH_B2C)) == 1


@pytest.mark.django_db(transaction=True)
def test_postgres_unreachable_is_503_and_reconnects_when_it_is_back(customer, wsgi_client):
    headers = _auth(customer)
    assert wsgi_client.get("/api/v1/bookings", headers=headers).status_code == 200
    connection.close()
    real_port = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = "1"  # nothing listens there: connection refused
    try:
        for path in ("/api/v1/bookings", "/api/v1/auth/me", "/api/v1/categories"):
            response = wsgi_client.get(path, headers=headers)
            assert response.status_code == 503, (path, response.get_data()[:300])
            assert _json(response)["code"] == "service_unavailable"
        assert wsgi_client.get("/health").status_code == 503
    finally:
        connection.close()
        connection.settings_dict["PORT"] = real_port
    assert wsgi_client.get("/api/v1/bookings", headers=headers).status_code == 200


# --- Celery broker (Redis) down when a committed request enqueues its task ---------------------------------


@pytest.fixture
def broker_down():
    """Publishing any task fails as it does when Redis refuses the connection (payments/tests/outage.py)."""
    with broker_unreachable():
        yield


@pytest.mark.django_db(transaction=True)
def test_broker_down_does_not_fail_a_committed_booking(world, broker_down):
    body = {
        "categoryId": world.category.pk,
        "title": "Fix the tap",
        "address": "Kilimani",
        "scheduledStart": "2030-01-07T09:00:00+03:00",
        "durationMinutes": 60,
        "price": "3000.00",
    }
    response = world.client("customer").post("/api/v1/bookings", body, format="json")
    assert response.status_code == 201, response.content[:300]
    assert Booking.objects.filter(customer=world.customer).count() == 1


@pytest.mark.django_db(transaction=True)
def test_broker_down_when_approving_a_payout_is_not_a_500(world, broker_down):
    payout = world.payout
    response = world.client("admin").post(f"/api/v1/payments/payouts/{payout.pk}/process")
    assert response.status_code < 500, response.content[:300]
