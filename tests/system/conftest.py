"""The system tier: the processes as deployed, driven from outside over HTTP and WebSockets.

One set of real processes serves the tier's tests (stopped after its last one): two ASGI web instances
(uvicorn, as `make run`, the image and compose start them), one WSGI instance (gunicorn, as the operations
guide runs the REST API), a Celery worker and `celery beat`, all under the production settings with the
staging opt-in (INSECURE_STAGING=true) and the real Daraja client pointed at FakeDaraja on 127.0.0.1. They
share a database of their own (a copy of one migrated and seeded with the demo data by `manage.py`, as an
operator does), the real Redis (cache, channel layer, broker, under this run's key prefixes) and static files
collected into a temporary STATIC_ROOT. Beat runs every entry each second (BEAT_INTERVAL_OVERRIDE_SECONDS).

What in-process tests cannot see is proven here: schedules, commits seen by another process, settings as
the entry points load them, static files, and fan-out between web instances. All system tests run on one
xdist worker (`xdist_group`), so the processes start once per `make test`.

What the tests do the same way (the demo personas, creating and reading a booking, paying its deposit,
waiting for a socket event) is in tests/system/helpers.py, once.

Run the tier alone with `make test-system`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from payments.tests.fakes.daraja import FakeDaraja
from payments.tests.fakes.pytest_plugin import FAKE_DARAJA_SETTINGS, start_fake_daraja
from tests.system.helpers import answers_health

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
DEMO_PASSWORD = "DumuWaks2026!"
START_TIMEOUT = (
    90.0  # seconds for every process to answer (CI may run the other xdist worker alongside)
)
CALLBACK_TOKEN = "system-tier-callback-token-0123456789abcdef"
AFRICASTALKING_CALLBACK_TOKEN = "system-tier-africastalking-token-0123456789abcdef"


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.xdist_group("system"))
            item.add_marker(pytest.mark.slow)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)


@dataclass
class System:
    env: dict[str, str]
    database_url: str
    web_a: str
    web_b: str
    wsgi: str
    daraja: FakeDaraja
    tmp: Path
    processes: dict[str, Process] = field(default_factory=dict)

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> Process:
        log = self.tmp / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=env or self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name=name, popen=popen, log=log)
        self.processes[name] = process
        return process

    def logs(self) -> str:
        return "\n".join(
            f"----- {name} -----\n{process.output()[-4000:]}"
            for name, process in self.processes.items()
        )

    def ws_url(self, base: str, token: str) -> str:
        return base.replace("http://", "ws://") + f"/ws?token={token}"

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def login(self, email: str, base: str | None = None) -> dict:
        """Sign in as `email`: the body of POST /auth/login. Sign-ins are rate-limited per address and per
        account (20 and 10 a minute), and the whole tier signs in from 127.0.0.1, so a 429 is waited out
        as its Retry-After says, as the app does."""
        for _attempt in range(3):
            response = httpx.post(
                f"{base or self.web_a}/api/v1/auth/login",
                json={"email": email, "password": DEMO_PASSWORD},
                timeout=30,
            )
            if response.status_code != 429:
                break
            time.sleep(int(response.headers.get("Retry-After", "5")) + 1)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for(self, predicate, *, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.logs()}")


def manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"


def system_env(
    *,
    tag: str,
    database_url: str,
    redis_url: str,
    daraja: FakeDaraja,
    cert_path: str,
    public_url: str,
    tmp: Path,
    broker_url: str | None = None,
) -> dict[str, str]:
    """The environment every process of a system under test runs with: production settings with the
    staging opt-in, its own database, Redis under this run's key prefixes (the broker on `broker_url` when
    given), the real Daraja client pointed at the fake, fast timers."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))},
        **FAKE_DARAJA_SETTINGS,
        "DJANGO_SETTINGS_MODULE": "dumuwaks.settings.production",
        "INSECURE_STAGING": "true",
        "SECRET_KEY": "system-tier-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "NUM_PROXIES": "0",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": broker_url or redis_url,
        "CACHE_KEY_PREFIX": f"dwsys:{tag}",
        "CHANNELS_PREFIX": f"dwsys:{tag}:asgi",
        "CELERY_BROKER_KEY_PREFIX": f"dwsys:{tag}:broker:",
        "STATIC_ROOT": str(tmp / "static"),
        "MEDIA_ROOT": str(tmp / "media"),
        "PUBLIC_API_URL": public_url,
        "MPESA_BACKEND": "sandbox",
        "MPESA_BASE_URL_OVERRIDE": daraja.base_url,
        "MPESA_CERTIFICATE_FILE": cert_path,
        "MPESA_CALLBACK_TOKEN": CALLBACK_TOKEN,
        "AFRICASTALKING_CALLBACK_TOKEN": AFRICASTALKING_CALLBACK_TOKEN,
        "MPESA_HTTP_TIMEOUT_SECONDS": "5",
        # Fast timers: beat sends every job each second; a pending STK push is queried after a second.
        "BEAT_INTERVAL_OVERRIDE_SECONDS": "1",
        "PAYMENT_STK_QUERY_AFTER_SECONDS": "1",
        "LOG_FORMAT": "text",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture(scope="package")
def seeded_database(tmp_path_factory) -> Iterator[str]:
    """A database migrated and loaded with the demo data as an operator does it (`manage.py migrate`,
    `load_demo_data`), once for the tier: every system under test starts from a copy of it
    (`CREATE DATABASE ... TEMPLATE`, a fraction of a second; the migrations alone take a minute or more on a
    machine running the rest of the suite)."""
    tag = f"{os.environ.get('DW_TEST_RUN_ID', 'local')}_{uuid.uuid4().hex[:8]}"
    tmp = tmp_path_factory.mktemp("seeded")
    database = f"dwsys_{tag}_seeded".lower()
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    try:
        daraja, cert_path = start_fake_daraja(tmp)
        try:
            env = system_env(
                tag=tag,
                database_url=f"postgres://postgres@127.0.0.1:5432/{database}",
                redis_url=REDIS_URL,
                daraja=daraja,
                cert_path=cert_path,
                public_url="http://127.0.0.1",
                tmp=tmp,
            )
            manage(env, "migrate", "--noinput", "-v", "0")
            manage(env, "load_demo_data")
        finally:
            daraja.stop()
            # What the seeding queued (the demo tickets' notifications) no worker of this tier serves.
            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(match=f"dwsys:{tag}*", count=1000):
                client.delete(key)
            client.close()
        yield database
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def create_database_from(template: str, database: str) -> None:
    """A new database holding what `template` holds (no session may be connected to `template`)."""
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')


# Package scope: the processes stop once the tier's last test ran, instead of beat and the worker running
# every job each second beside the rest of `make test`.
@pytest.fixture(scope="package")
def system(tmp_path_factory, seeded_database) -> Iterator[System]:
    tag = f"{os.environ.get('DW_TEST_RUN_ID', 'local')}_{uuid.uuid4().hex[:8]}"
    tmp = tmp_path_factory.mktemp("system")
    database = f"dwsys_{tag}".lower()
    database_url = f"postgres://postgres@127.0.0.1:5432/{database}"
    create_database_from(seeded_database, database)

    daraja, cert_path = start_fake_daraja(tmp)

    port_a, port_b, port_wsgi = free_port(), free_port(), free_port()
    web_a = f"http://127.0.0.1:{port_a}"
    env = system_env(
        tag=tag,
        database_url=database_url,
        redis_url=REDIS_URL,
        daraja=daraja,
        cert_path=cert_path,
        public_url=web_a,
        tmp=tmp,
    )
    manage(env, "collectstatic", "--noinput", "-v", "0")

    system = System(
        env=env,
        database_url=database_url,
        web_a=web_a,
        web_b=f"http://127.0.0.1:{port_b}",
        wsgi=f"http://127.0.0.1:{port_wsgi}",
        daraja=daraja,
        tmp=tmp,
    )
    asgi = [str(BIN / "uvicorn"), "dumuwaks.asgi:application", "--host", "127.0.0.1"]
    try:
        system.start("web-a", [*asgi, "--port", str(port_a)])
        system.start("web-b", [*asgi, "--port", str(port_b)])
        system.start(
            "wsgi",
            [
                str(BIN / "gunicorn"),
                "dumuwaks.wsgi:application",
                "-k",
                "sync",
                "-w",
                "1",
                "-b",
                f"127.0.0.1:{port_wsgi}",
            ],
        )
        system.start(
            "worker",
            [
                str(BIN / "celery"),
                "-A",
                "dumuwaks",
                "worker",
                "-P",
                "solo",
                "-n",
                f"system-{tag}@%h",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "INFO",
            ],
        )
        system.start(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "dumuwaks",
                "beat",
                "-l",
                "INFO",
                "--schedule",
                str(tmp / "celerybeat-schedule"),
            ],
        )
        for base in (system.web_a, system.web_b, system.wsgi):
            system.wait_for(
                lambda base=base: answers_health(base),
                timeout=START_TIMEOUT,
                what=f"{base}/health",
            )
        yield system
    finally:
        for process in system.processes.values():
            process.stop()
        daraja.stop()
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"dwsys:{tag}*", count=1000):
            client.delete(key)
        client.close()
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
