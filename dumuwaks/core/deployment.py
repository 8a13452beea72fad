"""What a production process refuses to start with, and what `manage.py check --deploy` reports.

One list of rules, used twice: `dumuwaks/settings/production.py` raises at import time (so gunicorn, uvicorn,
Celery and manage.py all stop before serving anything), and `dumuwaks.core.checks` registers the same rules as
deploy checks. Each rule names the environment variable an operator changes.

A staging deployment may knowingly run with fakes, the simulator or sandbox credentials by setting
`INSECURE_STAGING=true`; the process then starts, logs every finding as a warning and `/health` reports
`insecureStaging: true` with the variable names, so nobody mistakes it for production.

This module imports nothing from Django: settings import it before Django is configured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

INSECURE_STAGING_VARIABLE = "INSECURE_STAGING"

# Safaricom's published Daraja sandbox values: they move no real money.
DARAJA_SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
DARAJA_SANDBOX_SHORTCODES = {"174379", "600992", "600000", "600977", "600978", "600979"}
DARAJA_SANDBOX_INITIATOR = "testapi"
DEVELOPMENT_CALLBACK_TOKEN = "dev-callback-token"
MIN_CALLBACK_TOKEN_LENGTH = 32

_NON_DELIVERING_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}
# Media storages that keep uploads on one machine's disk: lost on a redeploy, not shared between servers.
_LOCAL_MEDIA_STORAGES = {
    "django.core.files.storage.FileSystemStorage",
    "django.core.files.storage.InMemoryStorage",
}
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}  # noqa: S104 - compared, never bound
# Settings that point a real provider SDK at a local fake (tests and the system tier only).
_FAKE_OVERRIDES = (
    "MPESA_BASE_URL_OVERRIDE",
    "STRIPE_API_BASE_OVERRIDE",
    "AFRICASTALKING_API_BASE_OVERRIDE",
    "CLOUDINARY_UPLOAD_PREFIX",
)


@dataclass(frozen=True)
class InsecureSetting:
    variable: str
    problem: str

    def __str__(self) -> str:
        return f"{self.variable}: {self.problem}"


def _is_local_or_plain_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme != "https" or (parts.hostname or "") in _LOCAL_HOSTS


def insecure_settings(setting: Callable[[str], Any]) -> list[InsecureSetting]:
    """Every setting that must not reach production; `setting(name)` reads one (None when absent)."""
    found: list[InsecureSetting] = []

    def refuse(variable: str, problem: str) -> None:
        found.append(InsecureSetting(variable, problem))

    mpesa_backend = setting("MPESA_BACKEND")
    if mpesa_backend == "simulator":
        refuse(
            "MPESA_BACKEND",
            "the simulator confirms payments itself: bookings would be paid with no money received."
            " Set MPESA_BACKEND=production with the Daraja credentials.",
        )
    elif mpesa_backend != "production":
        refuse(
            "MPESA_BACKEND",
            f"{mpesa_backend!r} is Safaricom's test environment (no real money);"
            " set MPESA_BACKEND=production.",
        )
    if setting("MPESA_PASSKEY") == DARAJA_SANDBOX_PASSKEY:
        refuse(
            "MPESA_PASSKEY", "is the public Daraja sandbox passkey; set your Lipa na M-Pesa one."
        )
    for name in ("MPESA_SHORTCODE", "MPESA_B2C_SHORTCODE"):
        if str(setting(name)) in DARAJA_SANDBOX_SHORTCODES:
            refuse(name, f"{setting(name)} is a Daraja sandbox shortcode; set your own.")
    if setting("MPESA_INITIATOR_NAME") == DARAJA_SANDBOX_INITIATOR:
        refuse(
            "MPESA_INITIATOR_NAME", "'testapi' is the sandbox initiator; set your B2C initiator."
        )
    token = setting("MPESA_CALLBACK_TOKEN") or ""
    if token == DEVELOPMENT_CALLBACK_TOKEN or len(token) < MIN_CALLBACK_TOKEN_LENGTH:
        refuse(
            "MPESA_CALLBACK_TOKEN",
            f"must be a random secret of at least {MIN_CALLBACK_TOKEN_LENGTH} characters"
            " (the development default is in the repository); anyone knowing it can post callbacks.",
        )
    at_token = setting("AFRICASTALKING_CALLBACK_TOKEN") or ""
    if at_token == DEVELOPMENT_CALLBACK_TOKEN or len(at_token) < MIN_CALLBACK_TOKEN_LENGTH:
        refuse(
            "AFRICASTALKING_CALLBACK_TOKEN",
            f"must be a random secret of at least {MIN_CALLBACK_TOKEN_LENGTH} characters; anyone knowing"
            " it can post inbound SMS/USSD as a technician's phone.",
        )
    callback_base = setting("MPESA_CALLBACK_BASE_URL") or ""
    if _is_local_or_plain_http(callback_base):
        refuse(
            "MPESA_CALLBACK_BASE_URL",
            f"{callback_base!r} is not a public https URL; Safaricom could not deliver callbacks"
            " (it defaults to PUBLIC_API_URL).",
        )

    if setting("EMAIL_BACKEND") in _NON_DELIVERING_EMAIL_BACKENDS:
        refuse(
            "EMAIL_BACKEND",
            f"{setting('EMAIL_BACKEND')} delivers no email; use the SMTP backend"
            " (django.core.mail.backends.smtp.EmailBackend) with EMAIL_HOST.",
        )
    if setting("SMS_BACKEND") == "console":
        refuse("SMS_BACKEND", "console sends no SMS; set SMS_BACKEND=africastalking.")
    elif setting("AFRICASTALKING_USERNAME") == "sandbox":
        refuse(
            "AFRICASTALKING_USERNAME", "'sandbox' delivers no SMS; set your Africa's Talking app."
        )
    if setting("PUSH_BACKEND") == "console":
        refuse("PUSH_BACKEND", "console sends no push notification; set PUSH_BACKEND=fcm.")
    if str(setting("STRIPE_SECRET_KEY") or "").startswith("sk_test_"):
        refuse("STRIPE_SECRET_KEY", "is a Stripe test-mode key; no card is charged.")
    media_storage = ((setting("STORAGES") or {}).get("default") or {}).get("BACKEND")
    if media_storage in _LOCAL_MEDIA_STORAGES:
        refuse(
            "MEDIA_BACKEND",
            f"{media_storage} keeps uploads on this machine's disk (lost on redeploy, not shared"
            " between servers); set MEDIA_BACKEND=cloudinary with CLOUDINARY_URL.",
        )
    for name in _FAKE_OVERRIDES:
        if setting(name):
            refuse(name, "points a provider client at a local fake (tests only); unset it.")

    if setting("NUM_PROXIES") is None:
        refuse(
            "NUM_PROXIES",
            "is unset: say how many proxies append to X-Forwarded-For in front of the app"
            " (0 when clients connect directly), or rate limits are keyed on the wrong address.",
        )
    client_url = setting("CLIENT_WEB_URL") or ""
    if client_url and _is_local_or_plain_http(client_url):
        refuse(
            "CLIENT_WEB_URL",
            f"{client_url!r} is not a public https origin; it is allowed by CORS and used in emails.",
        )
    local_origins = [
        origin
        for origin in setting("CORS_ALLOWED_ORIGINS") or []
        if origin != client_url and _is_local_or_plain_http(origin)
    ]
    if local_origins:
        refuse("CORS_ALLOWED_ORIGINS", f"allows non-https or local origins: {local_origins}.")
    public_url = setting("PUBLIC_API_URL") or ""
    if _is_local_or_plain_http(public_url):
        refuse("PUBLIC_API_URL", f"{public_url!r} is not the public https address of this API.")
    return found


def refusal_message(found: list[InsecureSetting]) -> str:
    lines = "\n".join(f"  - {item}" for item in found)
    return (
        "Production settings refuse to start:\n"
        f"{lines}\n"
        f"Fix each variable, or for a staging deployment set {INSECURE_STAGING_VARIABLE}=true"
        " (then /health reports insecureStaging)."
    )
