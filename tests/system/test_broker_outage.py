"""The broker goes down between a settlement's commit and its enqueue (issue 15, gap 5).

Real processes (uvicorn, a Celery worker, celery beat) with production settings, against Redis servers this
module starts itself on free ports (one for the cache and channel layer, one as the Celery broker), so the
shared Redis is never touched. The broker is killed (SIGKILL, no persistence: every queued message is
gone), a customer cancels a paid booking over HTTP (the cancellation commits, its settlement task cannot be
queued and is dropped), the broker comes back empty, and the money sweep on beat finds the refund owed from
durable state: the refund is created and sent by B2C exactly once, and paid when M-Pesa's result arrives.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from decimal import Decimal

import httpx
import psycopg
import pytest
import redis

from payments.tests.fakes.pytest_plugin import start_fake_daraja
from tests.system.conftest import (
    ADMIN_DSN,
    BIN,
    CALLBACK_TOKEN,
    START_TIMEOUT,
    System,
    create_database_from,
    free_port,
    system_env,
)
from tests.system.helpers import (
    CUSTOMER,
    answers_health,
    b2c_requests_for,
    bearer,
    create_booking,
    pay_deposit,
)

# Generous: two cores shared with the rest of the suite; every wait polls, none is an assertion by itself.
DEADLINE = 120.0


class RedisServer:
    """A throwaway redis-server on its own port: no snapshots, no AOF, so a kill loses everything."""

    def __init__(self, system: System, name: str):
        self.system, self.name, self.port = system, name, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.system.start(
            self.name,
            ["redis-server", "--save", "", "--appendonly", "no", "--port", str(self.port)],
        )
        self.system.wait_for(self.answers, timeout=30, what=f"{self.name} on {self.port}")

    def kill(self) -> None:
        process = self.system.processes[self.name]
        process.popen.kill()
        process.popen.wait(timeout=10)
        assert not self.answers()

    def answers(self) -> bool:
        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=1).ping()
        except redis.RedisError:
            return False


@pytest.fixture(scope="module")
def outage(tmp_path_factory, seeded_database) -> Iterator[tuple[System, RedisServer]]:
    tag = f"{os.environ.get('DW_TEST_RUN_ID', 'local')}_outage_{uuid.uuid4().hex[:8]}"
    tmp = tmp_path_factory.mktemp("outage")
    database = f"dwsys_{tag}".lower()
    database_url = f"postgres://postgres@127.0.0.1:5432/{database}"
    create_database_from(seeded_database, database)
    daraja, cert_path = start_fake_daraja(tmp)
    port = free_port()
    web = f"http://127.0.0.1:{port}"
    system = System(
        env={},
        database_url=database_url,
        web_a=web,
        web_b=web,
        wsgi=web,
        daraja=daraja,
        tmp=tmp,
    )
    cache, broker = RedisServer(system, "redis-cache"), RedisServer(system, "redis-broker")
    try:
        cache.start()
        broker.start()
        system.env = system_env(
            tag=tag,
            database_url=database_url,
            redis_url=cache.url,
            broker_url=broker.url,
            daraja=daraja,
            cert_path=cert_path,
            public_url=web,
            tmp=tmp,
        )
        uvicorn = [str(BIN / "uvicorn"), "dumuwaks.asgi:application", "--host", "127.0.0.1"]
        beat = [str(BIN / "celery"), "-A", "dumuwaks", "beat", "-l", "INFO"]
        system.start(
            "web",
            [*uvicorn, "--port", str(port)],
        )
        worker = [str(BIN / "celery"), "-A", "dumuwaks", "worker", "-P", "solo"]
        system.start(
            "worker",
            [
                *worker,
                "-n",
                f"outage-{tag}@%h",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "INFO",
            ],
        )
        system.start(
            "beat",
            [*beat, "--schedule", str(tmp / "celerybeat-schedule")],
        )
        system.wait_for(lambda: answers_health(web), timeout=START_TIMEOUT, what="web /health")
        yield system, broker
    finally:
        for process in reversed(list(system.processes.values())):
            process.stop()
        daraja.stop()
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _paid_booking(system: System, customer: dict) -> dict:
    """A direct booking whose deposit the customer paid on the phone (credited by the STK Query job)."""
    booking = create_booking(system, customer, days_ahead=5)
    pay_deposit(system, customer, booking, timeout=DEADLINE)
    return booking


def _refunds(system: System, booking_id: int) -> list[tuple]:
    return system.sql(
        "SELECT id, amount, status FROM payments_payout WHERE booking_id = %s AND kind = 'refund'",
        (booking_id,),
    )


def _b2c_originators(system: System, payout_id: int) -> list[str]:
    return [body["OriginatorConversationID"] for body in b2c_requests_for(system, payout_id)]


def _sweep_runs(system: System) -> int:
    return system.processes["worker"].output().count("payments.tasks.payments_sweep_task[")


def test_a_refund_whose_message_was_lost_with_the_broker_is_paid_once_by_the_sweep(outage):
    system, broker = outage
    customer = system.login(CUSTOMER)
    booking = _paid_booking(system, customer)
    booking_id = booking["id"]

    # The broker dies; the customer cancels. The cancellation commits; its settlement cannot be queued.
    broker.kill()
    response = httpx.request(
        "DELETE",
        f"{system.web_a}/api/v1/bookings/{booking_id}",
        headers=bearer(customer),
        json={"reason": "Plans changed."},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["booking"]["status"] == "cancelled"
    system.wait_for(
        lambda: "booking_settle_cancellation_task" in system.processes["web"].output()
        and "broker unavailable" in system.processes["web"].output(),
        timeout=DEADLINE,
        what="the web process to log the settlement it could not queue",
    )
    assert _refunds(system, booking_id) == []

    # The broker comes back empty. The sweep's grace (SWEEP_GRACE) is over: the booking as it looks a few
    # minutes later.
    broker.start()
    system.sql(
        "UPDATE bookings_booking SET updated_at = now() - interval '10 minutes' WHERE id = %s",
        (booking_id,),
    )
    (payout_id, amount, _status) = system.wait_for(
        lambda: next(iter(_refunds(system, booking_id)), None),
        timeout=DEADLINE,
        what="the sweep (beat → worker) to settle the cancellation",
    )
    assert amount == Decimal(cancelled["refund"]) > 0
    originator = system.wait_for(
        lambda: next(iter(_b2c_originators(system, payout_id)), None),
        timeout=DEADLINE,
        what="the worker to send the refund by B2C",
    )
    assert originator == f"DW-PO-{payout_id}-1"

    # M-Pesa's result reaches the web process.
    result = httpx.post(
        f"{system.web_a}/api/v1/payments/daraja/b2c/result",
        params={"token": CALLBACK_TOKEN},
        json=system.daraja.b2c_result_payload(originator, "0"),
        timeout=60,
    )
    assert result.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}

    def refund_paid_as_the_customer_sees_it():
        listing = httpx.get(
            f"{system.web_a}/api/v1/payments/transactions",
            headers=bearer(customer),
            params={"type": "payout"},
            timeout=60,
        ).json()
        return [row for row in listing["results"] if row["status"] == "paid"]

    (paid,) = system.wait_for(
        refund_paid_as_the_customer_sees_it, timeout=DEADLINE, what="the refund to show as paid"
    )
    assert (paid["id"], paid["kind"], paid["bookingId"]) == (payout_id, "refund", booking_id)

    # Beat keeps sweeping: nothing more moves.
    runs = _sweep_runs(system)
    system.wait_for(
        lambda: _sweep_runs(system) >= runs + 3,
        timeout=DEADLINE,
        what="three more sweep runs",
    )
    assert len(_refunds(system, booking_id)) == 1
    assert _b2c_originators(system, payout_id) == [originator]
    assert system.sql(
        "SELECT count(*) FROM payments_ledgertransaction WHERE reference = %s",
        (f"booking:{booking_id}:cancel-refund",),
    ) == [(1,)]
    # The shared Redis was never used: nothing under this run's prefix there.
    shared = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    tag_prefix = system.env["CACHE_KEY_PREFIX"]
    assert next(shared.scan_iter(match=f"{tag_prefix}*", count=1000), None) is None
    shared.close()
