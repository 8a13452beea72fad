"""A real Celery worker process, `kill -9`ed while its B2C request is at Safaricom, never pays twice.

tests/test_faults.py simulates the kill inside the test process (a BaseException in the task, then the task
re-applied by hand). That proves `payout_send`'s guard, but not what production relies on: that the Redis broker
really hands the unacknowledged task (CELERY_TASK_ACKS_LATE) to another worker after the first one died without
any chance to clean up, and that this redelivered copy, run by a fresh process against the same database, skips
instead of sending a second B2C. Only a real worker process, a real SIGKILL and the real broker exercise that.

How kombu's Redis transport redelivers: a delivered task stays in the `unacked` hash (scored by delivery time in
`unacked_index`) until the worker acks it. A SIGKILLed worker cannot requeue it (no warm shutdown; and
task_reject_on_worker_lost only covers a pool child dying under a living parent), so any worker on the broker
restores it once it has been unacked longer than the visibility timeout: when the worker starts polling, then
only every ~100 s. So the workers run with CELERY_BROKER_VISIBILITY_TIMEOUT=1, and the second worker is started
once the message is older than that. Each run uses its own broker key prefix and queue in Redis db 13.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from payments.models import Payout, PayoutStatusHistory
from payments.services.payouts import payout_process
from payments.tasks import payout_send_task
from payments.tests.fakes.daraja import PATH_B2C
from payments.tests.fakes.pytest_plugin import FAKE_DARAJA_SETTINGS
from payments.tests.helpers import CALLBACK_TOKEN, assert_reconciled, deliver_b2c_result_twice

BROKER_URL = "redis://127.0.0.1:6379/13"
VISIBILITY_TIMEOUT_SECONDS = 1
WORKER_APP_NAME = "dw-test-worker-kill"
WORKER_START_TIMEOUT = 60.0  # Django + Celery boot, then the task reaches the fake (generous: CI runs two suites side by side)
CELERY = str(Path(sys.executable).with_name("celery"))
PROJECT_ROOT = Path(__file__).resolve().parent.parent
_UNSET = object()


@dataclass
class Broker:
    """One test's slice of the Redis broker: every kombu key starts with `prefix`, tasks go to `queue`."""

    prefix: str
    queue: str
    client: redis.Redis = field(repr=False)

    def queued(self) -> int:
        return self.client.llen(f"{self.prefix}{self.queue}")

    def unacked(self) -> dict[str, float]:
        """task id -> delivery time, for every message a worker took and has not acknowledged."""
        scores = dict(self.client.zrange(f"{self.prefix}unacked_index", 0, -1, withscores=True))
        unacked = {}
        for tag, raw in self.client.hgetall(f"{self.prefix}unacked").items():
            message, _exchange, _routing_key = json.loads(raw)
            unacked[message["headers"]["id"]] = scores[tag]
        return unacked


@pytest.fixture
def broker():
    tag = "-".join(
        (
            os.environ.get("DW_TEST_RUN_ID", "local"),
            os.environ.get("PYTEST_XDIST_WORKER", "main"),
            uuid.uuid4().hex[:8],
        )
    )
    client = redis.Redis.from_url(BROKER_URL)
    yield Broker(prefix=f"dwtest-worker-kill:{tag}:", queue=f"payouts-{tag}", client=client)
    for key in client.scan_iter(match=f"dwtest-worker-kill:{tag}:*", count=1000):
        client.delete(key)
    client.close()


@dataclass
class Worker:
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def start_worker(broker, tmp_path):
    """start_worker(name) -> a `celery worker` process consuming only this test's queue; killed at teardown."""
    started: list[Worker] = []

    def start(name: str) -> Worker:
        log = tmp_path / f"worker-{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    CELERY,
                    "-A",
                    "dumuwaks",
                    "worker",
                    "-P",
                    "solo",
                    "-c",
                    "1",
                    "-Q",
                    broker.queue,
                    "-n",
                    f"{name}-{broker.queue}@%h",
                    "--without-heartbeat",
                    "--without-gossip",
                    "--without-mingle",
                    # INFO: the worker logs each task's return value, which shows what the redelivery did.
                    "-l",
                    "INFO",
                ],
                cwd=PROJECT_ROOT,
                env=_worker_env(broker),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append(Worker(process=process, log=log))
        return started[-1]

    yield start
    for worker in started:
        if worker.process.poll() is None:
            os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.wait(timeout=10)
    # A killed worker's PostgreSQL session ends a moment after the process; wait for it, or dropping the
    # test database at the end of the run finds it still "being accessed by other users".
    deadline = time.monotonic() + 10
    while _worker_sessions() and time.monotonic() < deadline:
        time.sleep(0.05)


def _worker_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [WORKER_APP_NAME]
        )
        return cursor.fetchone()[0]


def _database_url() -> str:
    """The pytest test database (test_<name>[_gwN]) this test's committed rows live in."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST']}:{db['PORT']}/{quote(db['NAME'], safe='')}"


def _worker_env(broker: Broker) -> dict[str, str]:
    """The test's settings for a worker process: same database, same fake Daraja, this test's broker slice."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dumuwaks.settings.test",
        "DATABASE_URL": _database_url(),
        "PGAPPNAME": WORKER_APP_NAME,  # libpq names the workers' sessions, so teardown can wait them out
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_BROKER_KEY_PREFIX": broker.prefix,
        "CELERY_BROKER_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_SECONDS),
        "MPESA_CALLBACK_TOKEN": CALLBACK_TOKEN,  # sandbox refuses to start with the dev token
        # Longer than the test: the first worker must still be waiting for Safaricom when it is killed.
        "MPESA_HTTP_TIMEOUT_SECONDS": "60",
    }
    for name in (*FAKE_DARAJA_SETTINGS, "MPESA_BACKEND", "MPESA_BASE_URL_OVERRIDE"):
        env[name] = str(getattr(django_settings, name))
    env["MPESA_CERTIFICATE_FILE"] = django_settings.MPESA_CERTIFICATE_FILE
    assert env["MPESA_BACKEND"] == "sandbox", "fake_daraja must be set up before a worker starts"
    return env


def _send_to_worker_queue(task, payout_id: int, broker: Broker) -> str:
    """Publish the task to the real broker (the test settings make every send eager otherwise)."""
    app = task.app
    # The app reads Django settings with namespace="CELERY", so the setting CELERY_TASK_ALWAYS_EAGER shadows
    # `conf.task_always_eager`: the override goes under the prefixed name, into the top map of changes.
    key = "CELERY_TASK_ALWAYS_EAGER"
    saved = app.conf.changes.get(key, _UNSET)
    app.conf.changes[key] = False
    try:
        with app.connection_for_write(
            BROKER_URL, transport_options={"global_keyprefix": broker.prefix}
        ) as conn:
            result = task.apply_async(
                args=[payout_id], queue=broker.queue, producer=conn.Producer()
            )
    finally:
        if saved is _UNSET:
            del app.conf.changes[key]
        else:
            app.conf.changes[key] = saved
    assert app.conf.task_always_eager is django_settings.CELERY_TASK_ALWAYS_EAGER
    return result.id


def _wait_for(condition, *, what: str, timeout: float, worker: Worker) -> None:
    """Poll `condition` until it holds; fail early, with the worker's log, if the worker exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        died = worker.process.poll() is not None
        if died or time.monotonic() > deadline:
            logs = f"--- {worker.log.name} ---\n{worker.output()[-4000:]}"
            reason = "the worker exited" if died else f"timed out after {timeout} s"
            pytest.fail(f"{reason} waiting for {what}\n{logs}")
        time.sleep(0.05)


@pytest.fixture
def queued_payout(world, admin_user, task_outbox):
    """The world's held payout, approved by an admin and committed; the send task is NOT queued anywhere."""
    payout = world.payout
    # transaction=True: on-commit work really runs, and the eager send would pay in this process; the
    # outbox holds it, and the test queues it to the worker's broker itself.
    payout_process(payout_id=payout.pk, actor=admin_user)
    task_outbox.release()
    assert task_outbox.ids_of(payout_send_task) == [payout.pk]
    payout.refresh_from_db()
    assert payout.status == "queued"
    return payout


@pytest.mark.django_db(transaction=True)
def test_worker_sigkilled_while_b2c_in_flight_never_pays_twice_on_redelivery(
    queued_payout, fake_daraja, broker, start_worker, settings
):
    settings.MPESA_CALLBACK_TOKEN = CALLBACK_TOKEN
    # Safaricom takes the payment, then keeps the worker waiting for the answer (until teardown).
    fake_daraja.hang_seconds = 60
    fake_daraja.fail_next(PATH_B2C, "hang")

    task_id = _send_to_worker_queue(payout_send_task, queued_payout.pk, broker)
    first = start_worker("first")
    _wait_for(
        lambda: len(fake_daraja.b2c) == 1,
        what="the first worker's B2C request to reach the fake Daraja",
        timeout=WORKER_START_TIMEOUT,
        worker=first,
    )
    assert len(fake_daraja.requests_to(PATH_B2C)) == 1
    assert Payout.objects.get(pk=queued_payout.pk).status == "sending"
    assert broker.queued() == 0
    assert list(broker.unacked()) == [task_id]

    os.kill(first.process.pid, signal.SIGKILL)
    assert first.process.wait(timeout=10) == -signal.SIGKILL
    # Nobody acknowledged or requeued it: the task waits in `unacked` for the visibility timeout.
    assert broker.queued() == 0
    delivered_at = broker.unacked()[task_id]
    time.sleep(max(0.0, delivered_at + VISIBILITY_TIMEOUT_SECONDS + 0.2 - time.time()))

    second = start_worker("second")
    done = f"Task payments.tasks.payout_send_task[{task_id}] succeeded"
    _wait_for(
        lambda: done in second.output() and not broker.unacked() and not broker.queued(),
        what="the second worker to run and acknowledge the redelivered task",
        timeout=WORKER_START_TIMEOUT,
        worker=second,
    )
    outcome = second.output().split(done, 1)[1].splitlines()[0]  # " in 0.01s: 'skipped_sending'"
    assert len(fake_daraja.requests_to(PATH_B2C)) == 1, f"the redelivered send paid again:{outcome}"
    assert outcome.endswith(": 'skipped_sending'"), outcome
    payout = Payout.objects.get(pk=queued_payout.pk)
    assert payout.status == "sending"
    assert PayoutStatusHistory.objects.filter(payout=payout, to_status="sending").count() == 1

    # Safaricom's result for the one request arrives (twice: Daraja retries callbacks) → paid once.
    deliver_b2c_result_twice(fake_daraja, payout)
    assert len(fake_daraja.requests_to(PATH_B2C)) == 1
    assert_reconciled()
