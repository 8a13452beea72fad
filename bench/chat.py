#!/usr/bin/env python
"""Chat fan-out benchmark: N WebSockets against a real uvicorn server through the Redis channel layer.

    .venv/bin/python bench/chat.py [--sockets 200] [--messages 10] [--interval 2.0]

What it does (bounded: the whole run is cancelled after --timeout seconds, and the server is always stopped):
1. uses its own database (default `dw_bench_chat`, created and migrated if needed), its own Redis key
   prefixes and Redis db 15 as Celery broker (nothing runs the queued tasks; the queue is deleted at the end);
2. creates N users in N/2 two-person conversations;
3. starts `uvicorn dumuwaks.asgi:application` on 127.0.0.1 (free port), one worker;
4. opens N sockets (JWT in the query string), each joins its conversation;
5. in every pair one side sends --messages messages over its socket, one every --interval seconds, the
   senders' start times spread evenly over one interval (steady load of N/2/interval messages per second); each message is stored by the same service as the REST API and fanned out by group_send
   through Redis to the conversation's sockets;
6. reports the latency from `message.send` leaving the client to `message.new` arriving at the other
   participant's socket (p50/p95/p99/max) and the sender's own ack latency.
Needs PostgreSQL and Redis on 127.0.0.1 (as `make run`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_EMAIL_DOMAIN = "bench-chat.dumuwaks.test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(args) -> dict:
    run_id = f"dwbench-chat-{os.getpid()}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dumuwaks.settings.local",
        "DATABASE_URL": args.database_url,
        "CACHE_KEY_PREFIX": run_id,
        "CHANNELS_PREFIX": f"{run_id}-asgi",
        "CELERY_BROKER_URL": args.broker_url,
        "LOG_LEVEL": "WARNING",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    os.environ.update(env)
    return env


def _prepare_database(n_sockets: int) -> list[tuple[int, int, int]]:
    """Create/migrate the bench DB and return [(sender_id, receiver_id, conversation_id)]."""
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.core.management import call_command

    call_command("ensure_database")
    call_command("migrate", verbosity=0, interactive=False)

    from accounts.models import Role, User
    from notifications.models import Conversation
    from notifications.services.chat import conversation_create_support

    users = []
    for i in range(n_sockets):
        email = f"user{i}@{BENCH_EMAIL_DOMAIN}"
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email=email,
                password=None,
                first_name=f"Bench{i}",
                last_name="User",
                role=Role.CUSTOMER if i % 2 == 0 else Role.TECHNICIAN,
            )
        users.append(user)
    # Fresh conversations every run, so message counts and unread counters start from zero.
    Conversation.objects.filter(subject="bench-chat").delete()
    pairs = []
    for i in range(0, n_sockets - 1, 2):
        sender, receiver = users[i], users[i + 1]
        conversation = conversation_create_support(
            customer=sender, agent=receiver, subject="bench-chat"
        )
        pairs.append((sender.pk, receiver.pk, conversation.pk))
    return pairs


def _tokens(user_ids) -> dict[int, str]:
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    return {u.pk: str(AccessToken.for_user(u)) for u in User.objects.filter(pk__in=user_ids)}


def _start_server(env: dict, port: int) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "dumuwaks.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--ws",
        "websockets",
        "--ws-max-queue",
        "1024",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    _stop_server(server)
    raise RuntimeError("uvicorn did not become healthy in 30 s")


def _stop_server(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=5)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


class Client:
    def __init__(self, user_id: int, conversation_id: int, websocket):
        self.user_id = user_id
        self.conversation_id = conversation_id
        self.ws = websocket
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.reader: asyncio.Task | None = None

    async def read_forever(self, on_message):
        async for raw in self.ws:
            event = json.loads(raw)
            now = time.perf_counter()
            if event.get("type") in ("message.new", "message.ack"):
                on_message(self, event, now)
            else:
                await self.inbox.put(event)

    async def expect(self, wanted: str, timeout: float = 30) -> dict:
        async def _wait():
            while True:
                event = await self.inbox.get()
                if event.get("type") == wanted:
                    return event
                if event.get("type") == "error":
                    raise RuntimeError(f"user {self.user_id}: {event}")

        return await asyncio.wait_for(_wait(), timeout)


async def _run(args, port: int, pairs, tokens) -> dict:
    from websockets.asyncio.client import connect

    sent_at: dict[str, float] = {}
    fanout: list[float] = []
    acks: list[float] = []
    expected = len(pairs) * args.messages
    done = asyncio.Event()

    def on_message(client: Client, event: dict, now: float):
        data = event["data"]  # docs/realtime.md: {"type", "requestId"?, "data"}
        if event["type"] == "message.ack":
            tag = data.get("clientId")
            if tag in sent_at:
                acks.append(now - sent_at[tag])
            return
        message = data["message"]
        tag = message.get("body", "")
        if (message.get("sender") or {}).get("id") != client.user_id and tag in sent_at:
            fanout.append(now - sent_at[tag])
            if len(fanout) >= expected:
                done.set()

    clients: list[Client] = []
    connect_started = time.perf_counter()

    async def open_socket(user_id, conversation_id):
        websocket = await connect(
            f"ws://127.0.0.1:{port}/ws/?token={tokens[user_id]}",
            origin="http://127.0.0.1",
            open_timeout=30,
            max_queue=None,
        )
        client = Client(user_id, conversation_id, websocket)
        client.reader = asyncio.create_task(client.read_forever(on_message))
        await client.expect("ready")
        await websocket.send(json.dumps({"action": "join", "conversationId": conversation_id}))
        await client.expect("joined")
        return client

    # Open in waves so the single server process is not handed 200 handshakes at the same instant.
    wave = 50
    endpoints = [(s, c) for s, _, c in pairs] + [(r, c) for _, r, c in pairs]
    for start in range(0, len(endpoints), wave):
        clients += await asyncio.gather(
            *(open_socket(u, c) for u, c in endpoints[start : start + wave])
        )
    connect_seconds = time.perf_counter() - connect_started
    senders = clients[: len(pairs)]

    async def send_all(client: Client, pair_index: int):
        # Spread the senders evenly over one interval: a steady offered load, not synchronized bursts.
        await asyncio.sleep(args.interval * pair_index / len(senders))
        for seq in range(args.messages):
            tag = f"bench:{pair_index}:{seq}"
            sent_at[tag] = time.perf_counter()
            await client.ws.send(
                json.dumps(
                    {
                        "action": "message.send",
                        "conversationId": client.conversation_id,
                        "body": tag,
                        "clientId": tag,
                    }
                )
            )
            await asyncio.sleep(args.interval)

    send_started = time.perf_counter()
    await asyncio.gather(*(send_all(c, i) for i, c in enumerate(senders)))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), timeout=max(10.0, args.timeout / 2))
    elapsed = time.perf_counter() - send_started

    for client in clients:
        await client.ws.close()
        if client.reader:
            client.reader.cancel()

    def ms(values, p):
        return round(_percentile(values, p) * 1000, 1)

    return {
        "sockets": len(clients),
        "conversations": len(pairs),
        "messages_sent": expected,
        "messages_fanned_out": len(fanout),
        "connect_and_join_seconds": round(connect_seconds, 2),
        "send_phase_seconds": round(elapsed, 2),
        "throughput_msgs_per_s": round(len(fanout) / elapsed, 1) if elapsed else None,
        "fanout_latency_ms": {
            "p50": ms(fanout, 0.50),
            "p95": ms(fanout, 0.95),
            "p99": ms(fanout, 0.99),
            "max": round(max(fanout) * 1000, 1) if fanout else None,
            "mean": round(statistics.fmean(fanout) * 1000, 1) if fanout else None,
        },
        "sender_ack_latency_ms": {"p50": ms(acks, 0.50), "p95": ms(acks, 0.95)},
    }


def _cleanup_redis(env: dict) -> None:
    import redis

    client = redis.Redis.from_url(env["CELERY_BROKER_URL"])
    client.delete("celery")  # tasks queued during the run; no worker ran them
    for prefix in (env["CACHE_KEY_PREFIX"], env["CHANNELS_PREFIX"]):
        main = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
        for key in main.scan_iter(match=f"{prefix}*", count=1000):
            main.delete(key)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--messages", type=int, default=10, help="per sending socket")
    parser.add_argument(
        "--interval",
        type=float,
        default=2.0,
        help="seconds between a socket's sends (offered load: sockets / 2 / interval msg/s)",
    )
    parser.add_argument("--timeout", type=float, default=180, help="hard limit for the whole run")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/dw_bench_chat"
    )
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    if args.sockets < 2 or args.sockets % 2:
        parser.error("--sockets must be an even number ≥ 2")

    env = _environment(args)
    pairs = _prepare_database(args.sockets)
    tokens = _tokens([uid for pair in pairs for uid in pair[:2]])
    port = _free_port()
    server = _start_server(env, port)
    try:
        result = asyncio.run(asyncio.wait_for(_run(args, port, pairs, tokens), args.timeout))
    finally:
        _stop_server(server)
        _cleanup_redis(env)
    latency = result["fanout_latency_ms"]
    print(
        f"chat fan-out: {result['sockets']} sockets, {result['messages_fanned_out']}/"
        f"{result['messages_sent']} messages delivered in {result['send_phase_seconds']} s "
        f"({result['throughput_msgs_per_s']} msg/s); latency p50 {latency['p50']} ms, "
        f"p95 {latency['p95']} ms, p99 {latency['p99']} ms, max {latency['max']} ms"
    )
    print(json.dumps(result))
    return 0 if result["messages_fanned_out"] == result["messages_sent"] else 1


if __name__ == "__main__":
    sys.exit(main())
