import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dumuwaks.core.logging_json import JsonFormatter

ROOT = Path(__file__).resolve().parents[3]


def _run_manage(*args, env_overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECRET_KEY"))}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# Everything a real production deployment sets (values are examples, not secrets).
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "dumuwaks.settings.production",
    "SECRET_KEY": "x" * 20 + "a-long-random-production-secret-0123456789",
    "ALLOWED_HOSTS": "api.dumuwaks.co.ke",
    "PUBLIC_API_URL": "https://api.dumuwaks.co.ke",
    "CLIENT_WEB_URL": "https://app.dumuwaks.co.ke",
    "NUM_PROXIES": "1",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "SMS_BACKEND": "africastalking",
    "AFRICASTALKING_USERNAME": "dumuwaks",
    "AFRICASTALKING_API_KEY": "at-key",
    "PUSH_BACKEND": "fcm",
    "FIREBASE_CREDENTIALS_FILE": "/run/secrets/firebase.json",
    "MPESA_BACKEND": "production",
    "MPESA_CONSUMER_KEY": "consumer-key",
    "MPESA_CONSUMER_SECRET": "consumer-secret",
    "MPESA_SHORTCODE": "4123456",
    "MPESA_B2C_SHORTCODE": "3123456",
    "MPESA_PASSKEY": "a-real-passkey",
    "MPESA_INITIATOR_NAME": "dumuwaks-api",
    "MPESA_INITIATOR_PASSWORD": "initiator-password",
    "MPESA_CERTIFICATE_FILE": "/run/secrets/daraja.cer",
    "MPESA_CALLBACK_TOKEN": "k" * 40,
    "AFRICASTALKING_CALLBACK_TOKEN": "a" * 40,
    "MEDIA_BACKEND": "cloudinary",
    "CLOUDINARY_URL": "cloudinary://123456789012345:cloudinary-secret@dumuwaks",
}


def test_check_deploy_is_clean_under_a_complete_production_environment():
    result = _run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION_ENV
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_with_only_a_secret_key_and_hosts_refuses_to_start_naming_every_variable():
    """What an operator got before: the simulator, console email/SMS/push, the repository's callback token,
    localhost CORS and a forgeable client IP, all started without a word."""
    result = _run_manage(
        "check",
        env_overrides={
            "DJANGO_SETTINGS_MODULE": "dumuwaks.settings.production",
            "SECRET_KEY": PRODUCTION_ENV["SECRET_KEY"],
            "ALLOWED_HOSTS": "api.dumuwaks.co.ke",
        },
    )
    assert result.returncode != 0
    assert "Production settings refuse to start" in result.stderr
    for variable in (
        "MPESA_BACKEND",
        "MPESA_CALLBACK_TOKEN",
        "AFRICASTALKING_CALLBACK_TOKEN",
        "MPESA_PASSKEY",
        "EMAIL_BACKEND",
        "SMS_BACKEND",
        "PUSH_BACKEND",
        "NUM_PROXIES",
        "CLIENT_WEB_URL",
        "MEDIA_BACKEND",
        "INSECURE_STAGING=true",
    ):
        assert f"{variable}" in result.stderr, variable


@pytest.mark.parametrize(
    "variable,value",
    [
        ("MPESA_BACKEND", "simulator"),
        ("MPESA_BACKEND", "sandbox"),
        ("MPESA_CALLBACK_TOKEN", "short-token"),
        ("AFRICASTALKING_CALLBACK_TOKEN", "dev-callback-token"),
        ("MPESA_PASSKEY", "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"),
        ("MPESA_SHORTCODE", "174379"),
        ("MPESA_INITIATOR_NAME", "testapi"),
        ("MPESA_BASE_URL_OVERRIDE", "http://127.0.0.1:9999"),
        ("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"),
        ("SMS_BACKEND", "console"),
        ("PUSH_BACKEND", "console"),
        ("STRIPE_SECRET_KEY", "sk_test_123"),
        ("NUM_PROXIES", None),
        ("CORS_ALLOWED_ORIGINS", "http://localhost:3000"),
        ("CLIENT_WEB_URL", "http://localhost:3000"),
        ("PUBLIC_API_URL", "http://api.dumuwaks.co.ke"),
        ("MEDIA_BACKEND", "local"),
        ("CLOUDINARY_UPLOAD_PREFIX", "http://127.0.0.1:9999"),
    ],
)
def test_each_insecure_setting_alone_stops_production_with_its_name(variable, value):
    env = {**PRODUCTION_ENV, variable: value}
    if value is None:
        del env[variable]
    result = _run_manage("check", env_overrides=env)
    assert result.returncode != 0
    refused = {
        line[4:].partition(":")[0] for line in result.stderr.splitlines() if line.startswith("  - ")
    }
    # The callback URL defaults to the public URL, so a wrong public URL is refused for both.
    also = {"MPESA_CALLBACK_BASE_URL"} if variable == "PUBLIC_API_URL" else set()
    assert refused == {variable, *also}, result.stderr


def test_the_staging_opt_in_starts_and_check_deploy_still_lists_what_it_accepted():
    env = {**PRODUCTION_ENV, "MPESA_BACKEND": "simulator", "INSECURE_STAGING": "true"}
    result = _run_manage("check", "--deploy", env_overrides=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dumuwaks.W001" in result.stdout + result.stderr
    assert "MPESA_BACKEND" in result.stdout + result.stderr


def test_check_deploy_reports_errors_for_the_development_settings():
    result = _run_manage(
        "check", "--deploy", env_overrides={"DJANGO_SETTINGS_MODULE": "dumuwaks.settings.local"}
    )
    assert result.returncode != 0
    assert "dumuwaks.E001" in result.stderr and "MPESA_BACKEND" in result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = _run_manage(
        "check",
        env_overrides={
            "DJANGO_SETTINGS_MODULE": "dumuwaks.settings.production",
            "ALLOWED_HOSTS": "x",
        },
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize(
    "backend,missing", [("sandbox", "MPESA_CONSUMER_KEY"), ("production", "MPESA_CONSUMER_KEY")]
)
def test_enabling_a_real_mpesa_backend_requires_its_secrets(backend, missing):
    result = _run_manage(
        "check",
        env_overrides={
            "DJANGO_SETTINGS_MODULE": "dumuwaks.settings.local",
            "MPESA_BACKEND": backend,
        },
    )
    assert result.returncode != 0
    assert missing in result.stderr


def test_json_log_lines_carry_the_request_id():
    record = logging.LogRecord("dumuwaks", logging.INFO, __file__, 1, "paid %s", ("KES 100",), None)
    record.request_id = "abc123"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "paid KES 100"
    assert line["request_id"] == "abc123"
    assert line["level"] == "INFO"


def test_env_example_copied_to_dotenv_gives_a_clean_configuration():
    """`.env.example` says "copy to .env": django-environ keeps everything after `=` (an inline comment
    becomes part of the value, an empty value is an empty string rather than the default), so the file
    holds bare values and leaves unset variables commented out. Loaded here exactly as settings load .env."""
    example = ROOT / ".env.example"
    keys = [
        line.partition("=")[0]
        for line in example.read_text().splitlines()
        if line and not line.startswith("#")
    ]
    probe = (
        "import environ, json, os, django; "
        f"environ.Env.read_env({str(example)!r}, overwrite=True); "
        "django.setup(); from django.conf import settings as s; "
        f"values = {{k: os.environ[k] for k in {keys!r}}}; "
        "print(json.dumps([values, s.SIMPLE_JWT['SIGNING_KEY'] == s.SECRET_KEY, s.CORS_ALLOWED_ORIGINS]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in keys},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    values, signing_key_is_secret_key, cors_origins = json.loads(result.stdout.splitlines()[-1])
    assert {k: v for k, v in values.items() if "#" in v or v != v.strip() or v == ""} == {}
    assert signing_key_is_secret_key
    assert all("#" not in origin for origin in cors_origins)


def test_production_prepares_frequent_statements_by_default():
    """Planning was a large part of each GET /bookings; server-side binding lets psycopg prepare what a
    connection runs often so PostgreSQL plans it once (DB_PREPARED_STATEMENTS in the operations guide)."""
    probe = (
        "import json; from dumuwaks.settings import production as p; "
        "options = p.DATABASES['default']['OPTIONS']; "
        "print(json.dumps([options.get('server_side_binding'), options.get('prepare_threshold')]))"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "SECRET_KEY", "DB_PREPARED_STATEMENTS"))
    }
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**env, **PRODUCTION_ENV},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [True, 5]
