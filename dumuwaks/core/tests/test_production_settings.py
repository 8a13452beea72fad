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


def test_check_deploy_is_clean_under_production_settings():
    result = _run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env_overrides={
            "DJANGO_SETTINGS_MODULE": "dumuwaks.settings.production",
            "SECRET_KEY": "x" * 20 + "a-long-random-production-secret-0123456789",
            "ALLOWED_HOSTS": "api.dumuwaks.co.ke",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


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


def test_a_real_mpesa_backend_refuses_the_development_callback_token():
    result = _run_manage(
        "check",
        env_overrides={
            "DJANGO_SETTINGS_MODULE": "dumuwaks.settings.local",
            "MPESA_BACKEND": "production",
            "MPESA_CONSUMER_KEY": "k",
            "MPESA_CONSUMER_SECRET": "s",
            "MPESA_PASSKEY": "p",
            "MPESA_INITIATOR_PASSWORD": "i",
            "MPESA_CERTIFICATE_FILE": "/etc/ssl/certs/ca-certificates.crt",
        },
    )
    assert result.returncode != 0
    assert "MPESA_CALLBACK_TOKEN" in result.stderr


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
