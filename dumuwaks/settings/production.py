"""Production: everything sensitive must come from the environment; refuse to start otherwise.

Fails closed: a fake or console provider, the simulator, sandbox credentials, a weak callback token, an unset
NUM_PROXIES or a local CORS origin stops every process at import (dumuwaks/core/deployment.py), unless the
loudly named staging opt-in INSECURE_STAGING=true is set, which /health then reports.
"""

import logging

import sentry_sdk
from django.core.exceptions import ImproperlyConfigured

from dumuwaks.core.deployment import insecure_settings, refusal_message

from .base import *  # noqa: F403
from .base import env

ENVIRONMENT = env.str("ENVIRONMENT", default="production")
DEBUG = False
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^health$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT  # noqa: F405

SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:  # error reporting is optional: without a DSN nothing is sent anywhere
    sentry_sdk.init(dsn=SENTRY_DSN, environment=ENVIRONMENT, send_default_pii=False)

INSECURE_STAGING = env.bool("INSECURE_STAGING", default=False)
_insecure = insecure_settings(globals().get)
if _insecure and not INSECURE_STAGING:
    raise ImproperlyConfigured(refusal_message(_insecure))
INSECURE_SETTINGS = [item.variable for item in _insecure]
for _item in _insecure:
    logging.getLogger("dumuwaks.deployment").warning("INSECURE_STAGING: %s", _item)
