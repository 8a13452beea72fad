"""Tests: the real PostgreSQL and Redis, isolated per pytest-xdist worker by key prefixes."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-key-0123456789abcdef0123456789abcdef")
os.environ.setdefault("ENVIRONMENT", "test")

from .base import *  # noqa: F403
from .base import (
    CACHES,
    CELERY_BROKER_TRANSPORT_OPTIONS,
    CHANNEL_LAYERS,
    DATABASES,
    REST_FRAMEWORK,
    STORAGES,
    env,
)

_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
# Tests hold one connection per thread inside transactions; a pool would only get in the way.
DATABASES["default"]["OPTIONS"].pop("pool", None)
DATABASES["default"]["CONN_MAX_AGE"] = 0
_run = os.environ.get("DW_TEST_RUN_ID", "local")
CACHES["default"]["KEY_PREFIX"] = f"dwtest:{_run}:{_worker}"
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"dwtest:{_run}:{_worker}:asgi"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher"
]  # speed; production uses Argon2
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
# In-process tests send no message: every task runs eagerly, and the broker is a port nobody listens on, so a
# test that turns eagerness off (payments/tests/outage.py) meets a broker outage, never the shared Redis. The
# URL is fixed for the whole process because Celery builds its connection pool from it once. Celery prefers
# CELERY_BROKER_URL from the environment: processes started on these settings with a real broker
# (tests/test_worker_kill.py) name it there.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:1/0")
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    # One connection attempt and no pause: with kombu's defaults a refused connection takes ~6 s to fail.
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0,
    "interval_max": 0,
}
MEDIA_ROOT = f"/tmp/dumuwaks-test-media/{_run}/{_worker}"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {**REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]},
}
# In-process tests run no collectstatic, so no manifest; the system tier serves collected files under the
# production storage (tests/system/).
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
