"""Local stand-ins for FCM, Africa's Talking and SMTP, on 127.0.0.1, speaking the providers' wire format."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body or b"null")

    @property
    def form(self) -> dict:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


# responder(request) -> (status, content_type, body_bytes)
Responder = Callable[[Recorded], tuple[int, str, bytes]]


@dataclass
class FakeHttpServer:
    responder: Responder
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(
                    self.command, self.path, dict(self.headers), self.rfile.read(length)
                )
                fake.requests.append(recorded)
                status, content_type, body = fake.responder(recorded)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def json_reply(status: int, payload: dict, content_type="application/json"):
    return status, content_type, json.dumps(payload).encode()


# --- FCM HTTP v1 -------------------------------------------------------------------------------------------------

FCM_UNREGISTERED = {
    "error": {
        "code": 404,
        "message": "Requested entity was not found.",
        "status": "NOT_FOUND",
        "details": [
            {
                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": "UNREGISTERED",
            }
        ],
    }
}
# 429 rather than 503: the SDK itself retries 500/503 with sleeps, which would only slow the tests down.
FCM_QUOTA_EXCEEDED = {
    "error": {
        "code": 429,
        "message": "Quota exceeded for this device.",
        "status": "RESOURCE_EXHAUSTED",
        "details": [
            {
                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": "QUOTA_EXCEEDED",
            }
        ],
    }
}


def fcm_responder(dead_tokens: set[str], *, throttled: bool = False) -> Responder:
    def respond(request: Recorded):
        if throttled:
            return json_reply(429, FCM_QUOTA_EXCEEDED)
        token = request.json["message"].get("token") or request.json["message"].get("fid")
        if token in dead_tokens:
            return json_reply(404, FCM_UNREGISTERED)
        return json_reply(200, {"name": f"projects/demo-proj/messages/{len(token)}-{token[-4:]}"})

    return respond


# --- Africa's Talking bulk SMS -----------------------------------------------------------------------------------


def africastalking_responder(status_code: int = 101) -> Responder:
    def respond(request: Recorded):
        numbers = request.form["to"].split(",")
        recipients = [
            {
                "statusCode": status_code,
                "number": number,
                "status": "Success" if status_code in (100, 101, 102) else "InvalidPhoneNumber",
                "cost": "KES 0.8000",
                "messageId": f"ATXid_{i:04d}",
            }
            for i, number in enumerate(numbers)
        ]
        return json_reply(
            201,
            {
                "SMSMessageData": {
                    "Message": f"Sent to {len(numbers)}/{len(numbers)} Total Cost: KES 0.8000",
                    "Recipients": recipients,
                }
            },
        )

    return respond


# --- SMTP --------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpCollector:
    def __init__(self):
        self.envelopes: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"
