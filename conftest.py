"""Personas and clients shared by every app's tests (see ../shared/STYLE.md, "Tests")."""

import threading
from dataclasses import dataclass, field

import pytest
from celery.app.task import Task
from channels.layers import channel_layers
from django.core.cache import cache
from django.db import connection
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Role, ServiceCategory, User
from accounts.tests.factories import (
    CustomerFactory,
    ServiceCategoryFactory,
    TechnicianFactory,
    UserFactory,
)
from dumuwaks.core import events, side_effects
from dumuwaks.core.cache import redis_client

# Property tests: `make test` draws a bounded random sample for each (new examples every run; the
# database-backed ones cost up to a second an example); explore with `pytest --hypothesis-profile=thorough`.
hypothesis_settings.register_profile("suite", max_examples=20)
hypothesis_settings.register_profile("thorough", max_examples=500)
hypothesis_settings.load_profile("suite")


@pytest.fixture(autouse=True)
def _isolated_cache():
    """Each test starts with an empty cache (throttles, tokens, locks) under this worker's key prefix."""
    _delete_prefixed_cache_keys()
    yield
    _delete_prefixed_cache_keys()


def _delete_prefixed_cache_keys():
    keys = list(redis_client.scan_iter(match=f"{cache.key_prefix}:*", count=1000))
    if keys:
        redis_client.delete(*keys)


def cached_keys(pattern: str) -> list[str]:
    """The keys stored in the cache matching the glob `pattern`, as `cache.get`/`cache.set` take them."""
    prefix = cache.make_key("")
    return [key.decode().removeprefix(prefix) for key in redis_client.keys(cache.make_key(pattern))]


@pytest.fixture(scope="session", autouse=True)
def _no_sessions_left_on_the_test_database(django_db_setup, django_db_blocker):
    """End stray sessions before pytest-django drops the test database.

    Threads started by the concurrency and socket tests open connections of their own; one whose thread
    ended without closing it stays open until the process exits, so the DROP DATABASE at the end of the run
    failed with "being accessed by other users" and left the database behind.
    """
    yield
    with django_db_blocker.unblock():
        if not connection.settings_dict["NAME"].startswith("test_"):
            return  # no test of this run used the database (e.g. only the system tier ran)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture
def anyio_backend():
    """Async tests (`pytest.mark.anyio`) run on asyncio, as uvicorn does."""
    return "asyncio"


@pytest.fixture
def fresh_channel_layer():
    """channels caches one layer per process, and channels_redis binds its locks to the event loop that used
    it first; every async test runs in a new loop, so socket tests start from no cached layer."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@dataclass(frozen=True)
class QueuedTask:
    name: str
    args: tuple
    kwargs: dict
    countdown: int | None


@dataclass
class TaskOutbox:
    """Celery tasks the code queued during a test, recorded instead of run or sent: the test seam for every
    side effect that leaves as a task (payout sends, STK and B2C queries, notification deliveries, sweeps),
    as Django's `mail.outbox` is for email.

    It records at Celery's public entry points (`Task.apply_async`, which `delay` calls, and `Task.apply`,
    which eager mode uses), so it sees every path: `dumuwaks.core.side_effects.enqueue_after_commit`, which
    queues when the transaction commits (outside a `transaction=True` test, commit with
    `django_capture_on_commit_callbacks(execute=True)`), `enqueue_now` and a sweeper's direct `delay`.
    """

    queued: list[QueuedTask] = field(default_factory=list)
    _patches: pytest.MonkeyPatch | None = None

    def hold(self, *tasks) -> None:
        """From now on record `tasks` (tasks or names; every task when none is given) instead of running or
        sending them; other tasks run as usual. Replaces what an earlier `hold` held."""
        self.release()
        names = {task if isinstance(task, str) else task.name for task in tasks}
        run_async, run = Task.apply_async, Task.apply

        def held(task) -> bool:
            return not names or task.name in names

        def apply_async(task, args=None, kwargs=None, countdown=None, **options):
            if not held(task):
                return run_async(task, args, kwargs, countdown=countdown, **options)
            self.queued.append(
                QueuedTask(task.name, tuple(args or ()), dict(kwargs or {}), countdown)
            )
            return None

        def apply(task, args=None, kwargs=None, **options):
            if not held(task):
                return run(task, args, kwargs, **options)
            self.queued.append(QueuedTask(task.name, tuple(args or ()), dict(kwargs or {}), None))
            return None

        self._patches = pytest.MonkeyPatch()
        self._patches.setattr(Task, "apply_async", apply_async)
        self._patches.setattr(Task, "apply", apply)

    def release(self) -> None:
        """Tasks run or go to the broker again (what was recorded stays readable)."""
        if self._patches is not None:
            self._patches.undo()
            self._patches = None

    def args_of(self, task) -> list[tuple]:
        """The positional arguments of each queueing of `task` (a task or its name), in order."""
        name = task if isinstance(task, str) else task.name
        return [queued.args for queued in self.queued if queued.name == name]

    def ids_of(self, task) -> list[int]:
        """The first argument (the row id: tasks carry ids only) of each queueing of `task`, in order."""
        return [args[0] for args in self.args_of(task)]


@pytest.fixture
def task_outbox():
    """Hold every Celery task queued during the test in a `TaskOutbox` instead of running or sending it
    (`task_outbox.hold(some_task)` holds only that one; `task_outbox.release()` lets them run again)."""
    outbox = TaskOutbox()
    outbox.hold()
    yield outbox
    outbox.release()


def _unsubscribe_all() -> dict:
    subscribed = side_effects.subscriptions()
    for event_type, handlers in subscribed.items():
        for handler in handlers:
            side_effects.unsubscribe(event_type, handler)
    return subscribed


@pytest.fixture
def no_event_subscribers():
    """The real subscribers set aside for the test (the test may subscribe its own); put back after it."""
    real = _unsubscribe_all()
    yield
    _unsubscribe_all()
    for event_type, handlers in real.items():
        for handler in handlers:
            side_effects.subscribe(event_type, handler)


@pytest.fixture
def domain_events(no_event_subscribers):
    """Every domain event published in the test, as `(name, payload)` in order, with the real subscribers
    set aside: the test is about what a service announces, not about the other apps' reactions."""
    received: list[tuple[str, dict]] = []
    for event_type in events.CATALOGUE.values():
        side_effects.subscribe(
            event_type, lambda event: received.append((event.name, event.payload()))
        )
    return received


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def service_category(db) -> ServiceCategory:
    return ServiceCategoryFactory()


@pytest.fixture
def customer(db) -> User:
    return CustomerFactory(
        email="wanjiku@example.co.ke",
        phone_number="+254712345678",
        first_name="Wanjiku",
        last_name="Kamau",
    )


@pytest.fixture
def other_customer(db) -> User:
    return UserFactory(
        email="otieno@example.co.ke",
        phone_number="+254722000111",
        first_name="Otieno",
        last_name="Odhiambo",
    )


@pytest.fixture
def technician(db, service_category) -> User:
    return TechnicianFactory(
        email="kiprop@example.co.ke",
        phone_number="+254733000222",
        skill=service_category,
        first_name="Kiprop",
        last_name="Cheruiyot",
    )


@pytest.fixture
def other_technician(db, service_category) -> User:
    return TechnicianFactory(
        email="mwangi@example.co.ke",
        phone_number="+254744000333",
        skill=service_category,
        first_name="Mwangi",
        last_name="Njoroge",
    )


@pytest.fixture
def support_agent(db) -> User:
    return UserFactory(
        email="agent@dumuwaks.co.ke",
        role=Role.SUPPORT,
        phone_number="+254755000444",
        is_staff=True,
        first_name="Achieng",
        last_name="Support",
    )


@pytest.fixture
def admin_user(db) -> User:
    return UserFactory(
        email="admin@dumuwaks.co.ke",
        role=Role.ADMIN,
        phone_number="+254766000555",
        is_staff=True,
        is_superuser=True,
        first_name="Baraka",
        last_name="Admin",
    )


def race(*calls, timeout=30):
    """Run the callables at the same instant, each in its own thread (and DB connection); return results.

    An exception a callable raises is its result. Use it in `transaction=True` tests."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, fn):
        try:
            barrier.wait()
            results[index] = fn()
        except Exception as exc:  # surfaced to the test as a result
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results


def bearer_client(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def customer_client(customer) -> APIClient:
    return bearer_client(customer)


@pytest.fixture
def other_customer_client(other_customer) -> APIClient:
    return bearer_client(other_customer)


@pytest.fixture
def technician_client(technician) -> APIClient:
    return bearer_client(technician)


@pytest.fixture
def other_technician_client(other_technician) -> APIClient:
    return bearer_client(other_technician)


@pytest.fixture
def support_client(support_agent) -> APIClient:
    return bearer_client(support_agent)


@pytest.fixture
def admin_client_api(admin_user) -> APIClient:
    return bearer_client(admin_user)
