"""Tests: the real PostgreSQL and Redis, isolated per pytest-xdist worker by key prefixes."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-key-0123456789abcdef0123456789abcdef")
os.environ.setdefault("ENVIRONMENT", "test")

from .base import *  # noqa: F403
from .base import CACHES, CHANNEL_LAYERS, DATABASES, REST_FRAMEWORK, STORAGES

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
