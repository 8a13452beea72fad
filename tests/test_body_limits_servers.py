"""Oversized request bodies are refused by the real servers the project ships, before they are read.

Raw sockets against `uvicorn dumuwaks.asgi:application` (make run, the Dockerfile, compose, the WebSocket
service) and `gunicorn dumuwaks.wsgi:application -k sync` (the REST API in docs/operations.md), both started
here as subprocesses. In-process tests (dumuwaks/core/tests/test_request_limits_asgi.py) count what the ASGI
application received; these prove what a client sees: the 413 arrives while almost none of the body has been
sent, and the connection is closed instead of being held open for the rest.

Under ASGI, RequestLimitsASGIMiddleware answers before Django's handler reads anything; under WSGI,
RequestLimitsMiddleware answers from CONTENT_LENGTH before anything reads gunicorn's lazy input stream. A
chunked body (no Content-Length) is counted and cut off at the limit under ASGI; under WSGI Django reads 0
bytes of it (and DRF parses no body without a Content-Length), so the view answers as for an empty body.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from dumuwaks.core.request_limits import MAX_BODY_BYTES, MAX_JSON_BODY_BYTES

# django_db: the servers get the test database's URL, so it has to exist (nothing here writes to it).
pytestmark = [pytest.mark.slow, pytest.mark.django_db]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
START_TIMEOUT = 30.0  # Django boots twice on a shared 2-core machine
ANSWER_TIMEOUT = 5.0  # a refusal takes milliseconds; generous for a loaded machine
GIB = 1_073_741_824
MIB = 1_048_576


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float  # from the first byte sent to the whole response read
    sent: int  # body bytes the client had sent when the response arrived
    closed: bool  # the server closed the connection after the response

    def json(self):
        return json.loads(self.body)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _database_url() -> str:
    """The pytest test database (the servers reach it only if a request needs it; none here should)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST']}:{db['PORT']}/{quote(db['NAME'], safe='')}"


def _start(name: str, command: list[str], port: int, log: Path, env: dict) -> Server:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    return Server(name=name, port=port, process=process, log=log)


def _wait_until_serving(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"{server.name} exited with {server.process.returncode}\n{server.output()}")
        try:
            answer = _try_exchange(
                server,
                _head("GET", "/api/v1/no-such-endpoint"),
                timeout=max(0.1, deadline - time.monotonic()),
            )
        except OSError:  # not listening yet
            time.sleep(0.1)
            continue
        if answer is not None and answer.status == 404:
            return
        time.sleep(0.1)
    pytest.fail(f"{server.name} did not serve within {START_TIMEOUT} s\n{server.output()}")


@pytest.fixture(scope="module")
def servers(django_db_setup, tmp_path_factory):
    """name -> Server: uvicorn (ASGI) and gunicorn sync (WSGI), started together, stopped at the end."""
    logs = tmp_path_factory.mktemp("body-limit-servers")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dumuwaks.settings.test",
        "DATABASE_URL": _database_url(),
        "PYTHONUNBUFFERED": "1",
    }
    uvicorn_port, gunicorn_port = _free_port(), _free_port()
    started = [
        _start(
            "uvicorn",
            [
                *(str(BIN / "uvicorn"), "dumuwaks.asgi:application"),
                *("--host", "127.0.0.1", "--port", str(uvicorn_port), "--log-level", "warning"),
            ],
            uvicorn_port,
            logs / "uvicorn.log",
            env,
        ),
        _start(
            "gunicorn",
            [
                *(str(BIN / "gunicorn"), "dumuwaks.wsgi:application", "-k", "sync", "-w", "1"),
                *("-b", f"127.0.0.1:{gunicorn_port}", "--timeout", "30", "--log-level", "warning"),
            ],
            gunicorn_port,
            logs / "gunicorn.log",
            env,
        ),
    ]
    try:
        for server in started:
            _wait_until_serving(server)
        yield {server.name: server for server in started}
    finally:
        for server in started:
            if server.process.poll() is None:
                server.process.terminate()
        for server in started:
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait(timeout=10)


def _head(method: str, path: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _exchange(
    server: Server,
    head: bytes,
    body=b"",
    *,
    timeout: float = ANSWER_TIMEOUT,
    then_closed: bool = True,
) -> Answer:
    """Send `head`, then `body` (bytes, or an iterator of pieces sent only while the server is silent)
    until the response arrives; read the response and whether the server then closes the connection."""
    answer = _try_exchange(server, head, body, timeout=timeout, then_closed=then_closed)
    if answer is None:
        pytest.fail(f"{server.name}: no complete response within {timeout} s\n{server.output()}")
    return answer


def _try_exchange(
    server: Server, head: bytes, body=b"", *, timeout: float, then_closed: bool = False
) -> Answer | None:
    pieces = iter([body]) if isinstance(body, bytes) else body
    sent = 0
    received = b""
    seconds = 0.0
    started = time.monotonic()
    deadline = started + timeout
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        pending = b""
        # Send the body while the server reads it; stop as soon as it answers (or hangs up).
        while time.monotonic() < deadline:
            if not pending:
                pending = next(pieces, b"")
            readable, writable, _ = select.select(
                [sock], [sock] if pending else [], [], deadline - time.monotonic()
            )
            if readable:
                break
            if writable:
                try:
                    count = sock.send(pending)
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += count
                pending = pending[count:]
        sock.setblocking(True)
        # Read the whole response, then wait (briefly) for the server to close.
        closed = False
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                closed = True  # the unread body made the server's close a reset
                break
            if not data:
                closed = True
                break
            received += data
            if _parse(received) is not None:
                seconds = time.monotonic() - started
                # Only waited for when a close is expected: a kept-alive connection would use up the time.
                closed = _closes(sock, deadline) if then_closed else False
                break
        else:
            seconds = time.monotonic() - started
    parsed = _parse(received)
    if parsed is None:
        return None
    status_line, headers, body = parsed
    return Answer(
        status=int(status_line.split()[1]),
        headers=headers,
        body=body,
        seconds=seconds,
        sent=sent,
        closed=closed,
    )


def _parse(received: bytes) -> tuple[str, dict[str, str], bytes] | None:
    """(status line, headers, body) once `received` holds a whole response (Content-Length or chunked)."""
    head, separator, rest = received.partition(b"\r\n\r\n")
    if not separator:
        return None
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        length = int(headers["content-length"])
        return (status_line, headers, rest[:length]) if len(rest) >= length else None
    if headers.get("transfer-encoding", "").lower() == "chunked":  # gunicorn, for Django's bare 413
        body = b""
        while True:
            size_line, found, rest = rest.partition(b"\r\n")
            if not found:
                return None
            size = int(size_line.split(b";")[0], 16)
            if len(rest) < size + 2:
                return None
            if size == 0:
                return status_line, headers, body
            body, rest = body + rest[:size], rest[size + 2 :]
    raise AssertionError(f"response with neither Content-Length nor chunked body: {head!r}")


def _closes(sock: socket.socket, deadline: float) -> bool:
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
    return False


def _chunked(piece: bytes, total: int):
    """A chunked body of `total` bytes in `piece`-sized chunks, never terminated (the client is still sending)."""
    frame = b"%x\r\n" % len(piece) + piece + b"\r\n"
    for _ in range(total // len(piece)):
        yield frame


def _assert_refused_too_large(answer: Answer, limit: int) -> None:
    assert answer.status == 413, answer
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "code": "payload_too_large",
        "message": f"The request body is too large (at most {limit} bytes).",
        "maxBytes": limit,
    }
    # Under a second is what it takes (milliseconds, measured); the bound leaves room for a loaded machine.
    assert answer.seconds < 3.0, answer
    # Not held open for the body that was declared but never came, nor kept alive with it half read.
    assert answer.closed, answer


SERVERS = ["uvicorn", "gunicorn"]


@pytest.mark.parametrize("name", SERVERS)
def test_declared_gigabyte_with_twelve_bytes_sent_is_413_at_once(servers, name):
    head = _head(
        "POST",
        "/api/v1/posts",
        {"Content-Type": "application/octet-stream", "Content-Length": str(GIB)},
    )
    answer = _exchange(servers[name], head + b"twelve bytes")

    _assert_refused_too_large(answer, MAX_BODY_BYTES)


@pytest.mark.parametrize("name", SERVERS)
def test_declared_200_mib_upload_is_413_after_a_small_part_was_sent(servers, name):
    head = _head(
        "POST",
        "/api/v1/media/upload/image",
        {"Content-Type": "multipart/form-data; boundary=xyz", "Content-Length": str(200 * MIB)},
    )
    # 200 MiB offered in 64 KiB pieces, sent only while the server has not answered.
    answer = _exchange(servers[name], head, (b"x" * 65536 for _ in range(200 * 16)))

    _assert_refused_too_large(answer, MAX_BODY_BYTES)
    # What the client got out before the answer fits in the kernel's socket buffers; nothing was waited for.
    assert answer.sent < 32 * MIB, answer


def test_chunked_json_past_the_limit_is_413_under_asgi(servers):
    head = _head(
        "POST",
        "/api/v1/auth/login",
        {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    answer = _exchange(servers["uvicorn"], head, _chunked(b"x" * 65536, 64 * MIB))

    _assert_refused_too_large(answer, MAX_JSON_BODY_BYTES)
    assert answer.sent < 32 * MIB, answer


def test_chunked_body_is_not_read_under_wsgi(servers):
    """gunicorn passes no CONTENT_LENGTH for a chunked body, so Django reads 0 bytes of it and the view
    answers as for an empty body, at once; the sync worker then closes the connection."""
    head = _head(
        "POST",
        "/api/v1/auth/login",
        {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    answer = _exchange(servers["gunicorn"], head, _chunked(b"x" * 65536, 64 * MIB))

    assert answer.status == 400, answer
    assert answer.json() == {
        "code": "validation_error",
        "message": "Some fields are invalid.",
        "fields": {"email": ["This field is required."], "password": ["This field is required."]},
    }
    assert answer.seconds < 3.0, answer
    assert answer.closed, answer
    assert answer.sent < 32 * MIB, answer


@pytest.mark.parametrize("name", SERVERS)
def test_body_under_the_limit_reaches_the_view(servers, name):
    body = json.dumps({"email": "nobody@example.com"}).encode()
    head = _head(
        "POST",
        "/api/v1/auth/login",
        {"Content-Type": "application/json", "Content-Length": str(len(body))},
    )
    answer = _exchange(servers[name], head, body, then_closed=False)

    assert answer.status == 400, answer
    assert answer.json() == {
        "code": "validation_error",
        "message": "Some fields are invalid.",
        "fields": {"password": ["This field is required."]},
    }
