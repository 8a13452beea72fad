"""notifications.sms: console outbox and the Africa's Talking backend against a local fake of its HTTP API."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import requests
from celery.exceptions import Retry

from accounts.tasks import send_phone_verification_code
from notifications import sms
from notifications.sms import SmsDeliveryError, SmsResult, render_sms, send_sms


class FakeAfricasTalking:
    """POST /version1/messaging as Africa's Talking answers it (form in, JSON out)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.reply = (201, "application/json", self.accepted())
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                fake.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "form": {k: v[0] for k, v in parse_qs(body).items()},
                    }
                )
                status, content_type, payload = fake.reply
                raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def accepted(number="+254712345678", code=101, status="Success", message_id="ATXid_abc123"):
        return {
            "SMSMessageData": {
                "Message": "Sent to 1/1 Total Cost: KES 0.8000",
                "Recipients": [
                    {
                        "statusCode": code,
                        "number": number,
                        "status": status,
                        "cost": "KES 0.8000",
                        "messageId": message_id,
                    }
                ],
            }
        }

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def fake_at(settings, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    fake = FakeAfricasTalking()
    settings.SMS_BACKEND = "africastalking"
    settings.AFRICASTALKING_USERNAME = "dumuwaks"
    settings.AFRICASTALKING_API_KEY = "atsk_test_key"
    settings.AFRICASTALKING_SENDER_ID = "DUMUWAKS"
    settings.AFRICASTALKING_API_BASE_OVERRIDE = fake.url
    yield fake
    fake.stop()


def test_console_backend_records_the_message():
    result = send_sms(to="0712 345 678", message="Habari!")
    assert result == SmsResult(status="sent", provider_message_id="console-1", detail="console")
    assert [(m.to, m.message) for m in sms.outbox] == [("+254712345678", "Habari!")]


def test_invalid_numbers_fail_without_sending():
    result = send_sms(to="12345", message="x")
    assert (result.status, result.detail) == ("failed", "invalid_phone_number")
    assert sms.outbox == []


def test_render_sms_picks_the_swahili_variant_and_falls_back_to_english():
    context = {"code": "123456", "valid_minutes": 10}
    assert render_sms(template="phone_verification", context=context, language="sw").startswith(
        "123456 ni msimbo wako"
    )
    assert render_sms(template="phone_verification", context=context, language="fr").startswith(
        "123456 is your Dumu Waks verification code"
    )


def test_africastalking_sends_the_real_wire_format(fake_at):
    result = send_sms(to="0712345678", message="Your code is 123456")

    assert result == SmsResult(status="sent", provider_message_id="ATXid_abc123", detail="Success")
    (request,) = fake_at.requests
    assert request["path"] == "/version1/messaging"
    assert request["headers"]["apiKey"] == "atsk_test_key"
    assert request["headers"]["Accept"] == "application/json"
    assert request["form"] == {
        "username": "dumuwaks",
        "to": "+254712345678",
        "message": "Your code is 123456",
        "bulkSMSMode": "1",
        "from": "DUMUWAKS",
    }
    assert sms.outbox == []


def test_africastalking_json_with_charset_is_still_parsed(fake_at):
    # AT's SDK read such a reply as raw text; ours reads it as the JSON it is.
    fake_at.reply = (
        201,
        "application/json; charset=utf-8",
        fake_at.accepted(code=102, status="Queued"),
    )
    result = send_sms(to="+254712345678", message="hi")
    assert (result.status, result.detail) == ("sent", "Queued")


def test_africastalking_rejected_recipient_is_a_permanent_failure(fake_at):
    fake_at.reply = (
        201,
        "application/json",
        fake_at.accepted(code=406, status="UserInBlacklist", message_id="None"),
    )
    result = send_sms(to="+254712345678", message="hi")
    assert result.status == "failed"
    assert result.detail == "406 UserInBlacklist"


def test_africastalking_no_recipients_is_a_failure(fake_at):
    fake_at.reply = (
        201,
        "application/json",
        {"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}},
    )
    result = send_sms(to="+254712345678", message="hi")
    assert (result.status, result.detail) == ("failed", "InvalidSenderId")


def test_africastalking_gateway_error_is_transient(fake_at):
    fake_at.reply = (201, "application/json", fake_at.accepted(code=501, status="GatewayError"))
    with pytest.raises(SmsDeliveryError, match="501 GatewayError"):
        send_sms(to="+254712345678", message="hi")


def test_africastalking_http_error_is_transient(fake_at):
    fake_at.reply = (401, "text/plain", b"The supplied authentication is invalid")
    with pytest.raises(SmsDeliveryError, match="authentication is invalid"):
        send_sms(to="+254712345678", message="hi")


def test_africastalking_unreachable_is_transient(fake_at, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.AFRICASTALKING_API_BASE_OVERRIDE = f"http://127.0.0.1:{closed_port}"
    with pytest.raises(SmsDeliveryError, match="unreachable"):
        send_sms(to="+254712345678", message="hi")


@pytest.mark.parametrize(
    ("username", "host"),
    [
        ("sandbox", "https://api.sandbox.africastalking.com"),
        ("dumuwaks", "https://api.africastalking.com"),
    ],
)
def test_africastalking_host_follows_the_account(settings, monkeypatch, username, host):
    # Without the test override, the sandbox account talks to AT's sandbox and any other to production.
    settings.SMS_BACKEND = "africastalking"
    settings.AFRICASTALKING_USERNAME = username
    settings.AFRICASTALKING_API_KEY = "atsk_test_key"
    settings.AFRICASTALKING_API_BASE_OVERRIDE = ""
    asked = []

    def offline(url, **kwargs):
        asked.append(url)
        raise requests.ConnectionError("no network in tests")

    monkeypatch.setattr(sms.requests, "post", offline)
    with pytest.raises(SmsDeliveryError, match="unreachable"):
        send_sms(to="+254712345678", message="hi")
    assert asked == [f"{host}/version1/messaging"]


@pytest.mark.django_db
def test_phone_code_task_asks_celery_to_retry_transient_failures(fake_at, customer):
    fake_at.reply = (
        201,
        "application/json",
        fake_at.accepted(code=500, status="InternalServerError"),
    )
    with pytest.raises(Retry) as retry:
        send_phone_verification_code.apply(args=[customer.pk], throw=True)
    assert isinstance(retry.value.exc, SmsDeliveryError)
    assert len(fake_at.requests) == 1
    assert fake_at.requests[0]["form"]["message"].endswith("Do not share it with anyone.")


@pytest.mark.django_db
def test_phone_code_task_reports_permanent_failures_without_retrying(fake_at, customer):
    fake_at.reply = (
        201,
        "application/json",
        fake_at.accepted(code=403, status="InvalidPhoneNumber"),
    )
    assert send_phone_verification_code.apply(args=[customer.pk], throw=True).get() == "failed"
    assert len(fake_at.requests) == 1
