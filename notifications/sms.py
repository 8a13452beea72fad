"""Send one SMS through the backend chosen by `settings.SMS_BACKEND` ("console" or "africastalking").

`send_sms` returns an `SmsResult` for outcomes that retrying cannot change (sent, or rejected for good) and
raises `SmsDeliveryError` for transient failures (network, provider 5xx) so a Celery task can retry it.

Templates for SMS bodies live in `templates/sms/<name>.txt` with a Kiswahili variant
`templates/sms/<name>.sw.txt` (a test walks templates/sms); render them with `render_sms`.

Tests: the console backend appends every message to `notifications.sms.outbox` (like `mail.outbox`); clear it
in an autouse fixture.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import requests
from django.conf import settings
from django.template import Context
from django.template.loader import select_template
from django.utils import translation

from dumuwaks.core.phone import InvalidPhoneNumber, mask_phone, normalize_phone

logger = logging.getLogger(__name__)

# Per-recipient status codes from Africa's Talking's bulk SMS API.
_AT_ACCEPTED = {100, 101, 102}  # Processed, Sent, Queued
_AT_TRANSIENT = {500, 501}  # InternalServerError, GatewayError: worth a retry
# Africa's Talking's hosts (the sandbox account's messages reach only AT's simulator, never a phone).
_AT_PRODUCTION_BASE = "https://api.africastalking.com"
_AT_SANDBOX_BASE = "https://api.sandbox.africastalking.com"
# (connect, read) seconds, as AT's own SDK uses: a Celery task retries what times out.
_AT_TIMEOUT_SECONDS = (3.05, 9.05)


class SmsDeliveryError(Exception):
    """A transient failure: the caller (a Celery task) should retry later."""


@dataclass(frozen=True)
class SmsResult:
    status: Literal["sent", "failed"]
    provider_message_id: str | None
    detail: str


@dataclass(frozen=True)
class OutboxSms:
    to: str
    message: str


outbox: list[OutboxSms] = []


def template_name(template: str, language: str) -> str:
    """The file that holds SMS `template` in `language` (English has no language infix)."""
    if language and language != "en":
        return f"sms/{template}.{language}.txt"
    return f"sms/{template}.txt"


def render_sms(*, template: str, context: dict, language: str = "en") -> str:
    """Render `templates/sms/<template>.txt` (or `<template>.sw.txt` for Kiswahili; English if missing)."""
    names = list(dict.fromkeys([template_name(template, language), template_name(template, "en")]))
    with translation.override(language or "en"):
        # SMS is plain text: no HTML escaping.
        return select_template(names).template.render(Context(context, autoescape=False)).strip()


def send_sms(*, to: str, message: str) -> SmsResult:
    try:
        recipient = normalize_phone(to)
    except InvalidPhoneNumber:
        return SmsResult(status="failed", provider_message_id=None, detail="invalid_phone_number")
    backend = settings.SMS_BACKEND
    if backend == "console":
        return _send_console(recipient, message)
    if backend == "africastalking":
        return _send_africastalking(recipient, message)
    raise ValueError(f"Unknown SMS_BACKEND {backend!r}")


def _send_console(to: str, message: str) -> SmsResult:
    # The console backend is for development and tests: the full text is what a developer needs to see.
    logger.info("SMS to %s: %s", to, message)
    outbox.append(OutboxSms(to=to, message=message))
    return SmsResult(status="sent", provider_message_id=f"console-{len(outbox)}", detail="console")


def _africastalking_messaging_url() -> str:
    # Our own client rather than AT's Python SDK: the SDK has no public option for its host (tests point
    # this at a fake on 127.0.0.1, as MPESA_BASE_URL_OVERRIDE and STRIPE_API_BASE_OVERRIDE do for theirs).
    base = settings.AFRICASTALKING_API_BASE_OVERRIDE or (
        _AT_SANDBOX_BASE if settings.AFRICASTALKING_USERNAME == "sandbox" else _AT_PRODUCTION_BASE
    )
    return base.rstrip("/") + "/version1/messaging"


def _send_africastalking(to: str, message: str) -> SmsResult:
    """POST /version1/messaging, AT's bulk SMS API (integrations.md, section 3): form in, JSON out."""
    form = {
        "username": settings.AFRICASTALKING_USERNAME,
        "to": to,
        "message": message,
        "bulkSMSMode": 1,
    }
    if settings.AFRICASTALKING_SENDER_ID:
        form["from"] = settings.AFRICASTALKING_SENDER_ID
    try:
        reply = requests.post(
            _africastalking_messaging_url(),
            data=form,
            headers={"Accept": "application/json", "apiKey": settings.AFRICASTALKING_API_KEY},
            timeout=_AT_TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        raise SmsDeliveryError(f"Africa's Talking unreachable: {exc}") from exc
    if not reply.ok:
        # An outage (5xx) or a bad key (401, which an operator fixes): the task retries a few times either
        # way, and the log says which it was.
        logger.warning(
            "Africa's Talking refused SMS to %s: HTTP %s %s",
            mask_phone(to),
            reply.status_code,
            reply.text[:200],
        )
        raise SmsDeliveryError(
            f"Africa's Talking error: HTTP {reply.status_code} {reply.text[:200]}"
        )
    try:
        response = reply.json()
    except ValueError as exc:
        raise SmsDeliveryError(f"Unreadable Africa's Talking response: {reply.text[:200]}") from exc

    data = (response or {}).get("SMSMessageData") or {}
    recipients = data.get("Recipients") or []
    if not recipients:
        # e.g. {"Message": "InvalidSenderId", "Recipients": []}: nothing was accepted.
        return SmsResult(
            status="failed", provider_message_id=None, detail=str(data.get("Message", ""))
        )
    recipient = recipients[0]
    try:
        status_code = int(recipient.get("statusCode"))
    except (TypeError, ValueError):
        status_code = 0
    status_text = str(recipient.get("status", ""))
    if status_code in _AT_ACCEPTED:
        return SmsResult(
            status="sent", provider_message_id=recipient.get("messageId"), detail=status_text
        )
    if status_code in _AT_TRANSIENT:
        raise SmsDeliveryError(f"Africa's Talking {status_code} {status_text}")
    logger.warning(
        "Africa's Talking rejected SMS to %s: %s %s", mask_phone(to), status_code, status_text
    )
    return SmsResult(
        status="failed",
        provider_message_id=recipient.get("messageId") or None,
        detail=f"{status_code} {status_text}".strip(),
    )


__all__ = [
    "OutboxSms",
    "SmsDeliveryError",
    "SmsResult",
    "outbox",
    "render_sms",
    "send_sms",
]
