"""A tiny threaded HTTP server on 127.0.0.1 (free port) that fakes use to speak a provider's wire format."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw: bytes
    json: Any = None
    form: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list → JSON
    headers: dict[str, str] = field(default_factory=dict)
    hang_seconds: float = 0.0  # sleep before answering (client read timeout)
    drop_connection: bool = False  # close the socket without any response
    raw_body: bytes | None = None  # sent as-is instead of `body` (e.g. an HTML proxy page)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format, *args):  # keep test output clean
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            raw=raw,
        )
        content_type = request.headers.get("content-type", "")
        if raw and "json" in content_type:
            try:
                request.json = json.loads(raw)
            except ValueError:
                request.json = None
        elif raw and "x-www-form-urlencoded" in content_type:
            request.form = parse_qs(raw.decode(), keep_blank_values=True)
        with self.server.lock:
            self.server.fake.requests.append(request)
        reply = self.server.fake.handle(request)
        if reply.hang_seconds:
            self.server.fake.hang_event.wait(reply.hang_seconds)
        if reply.drop_connection:
            self.close_connection = True
            return
        if reply.raw_body is not None:
            payload = reply.raw_body
        else:
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815 (http.server's naming)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: LocalFake):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self.lock = threading.Lock()

    def handle_error(self, request, client_address):
        pass  # a client that gave up (timeout tests) makes the late write fail; that is expected


class LocalFake:
    """Subclasses implement `handle(request) -> Reply`. Use as a context manager or start()/stop()."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.hang_event = threading.Event()  # set on stop() so hanging handlers end promptly
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def handle(self, request: RecordedRequest) -> Reply:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        assert self._server is not None, "fake not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.hang_event.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]


class CallbackReceiver(LocalFake):
    """Records whatever is POSTed to it (stands in for our own callback endpoints) and answers like them."""

    def __init__(self) -> None:
        super().__init__()
        self.received = threading.Condition()
        self._failures_left = 0

    def fail_next(self, count: int = 1) -> None:
        """Answer the next `count` POSTs 503, as our endpoint does while it is down (they are still recorded)."""
        self._failures_left = count

    def handle(self, request: RecordedRequest) -> Reply:
        with self.received:
            self.received.notify_all()
        if self._failures_left:
            self._failures_left -= 1
            return Reply(503, {"detail": "Service Unavailable"})
        return Reply(200, {"ResultCode": 0, "ResultDesc": "Accepted"})

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        with self.received:
            self.received.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
        return list(self.requests)
