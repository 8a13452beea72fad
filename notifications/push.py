"""Push notifications through the backend chosen by `settings.PUSH_BACKEND` ("console" or "fcm").

`send_push(targets, title, body, data)` returns a `PushResult` per target, in order. Targets whose error
means "this device is gone" (UNREGISTERED, SENDER_ID_MISMATCH, a malformed registration token) come back
with `prune=True`; the caller deletes them. Transient failures (quota, unavailable, internal) come back
`retry=True`. The console backend keeps `notifications.push.outbox` for development and tests.
"""

from __future__ import annotations

import logging
import threading
import warnings
from dataclasses import dataclass, field

import firebase_admin
from django.conf import settings
from firebase_admin import credentials, exceptions, messaging

logger = logging.getLogger(__name__)

FCM_BATCH_SIZE = 100  # the SDK opens one thread per target; keep batches small on a 2-core box


@dataclass(frozen=True)
class PushTarget:
    token: str
    kind: str = "token"  # "token" | "fid"


@dataclass(frozen=True)
class PushResult:
    target: PushTarget
    success: bool
    message_id: str = ""
    error: str = ""
    prune: bool = False
    retry: bool = False


@dataclass
class OutboxPush:
    targets: list[str]
    title: str
    body: str
    data: dict = field(default_factory=dict)


outbox: list[OutboxPush] = []


def send_push(*, targets: list[PushTarget], title: str, body: str, data: dict) -> list[PushResult]:
    if not targets:
        return []
    string_data = {str(k): str(v) for k, v in (data or {}).items() if v is not None}
    backend = settings.PUSH_BACKEND
    if backend == "console":
        logger.info("push to %d device(s): %s — %s", len(targets), title, body)
        outbox.append(OutboxPush([t.token for t in targets], title, body, string_data))
        return [
            PushResult(target=t, success=True, message_id=f"console-{len(outbox)}-{i}")
            for i, t in enumerate(targets)
        ]
    if backend == "fcm":
        results: list[PushResult] = []
        for start in range(0, len(targets), FCM_BATCH_SIZE):
            chunk = targets[start : start + FCM_BATCH_SIZE]
            results.extend(_send_fcm(chunk, title, body, string_data))
        return results
    raise ValueError(f"Unknown PUSH_BACKEND {backend!r}")


_app_lock = threading.Lock()
# firebase_admin keeps its apps in a process-wide registry by name; ours is registered under this one.
FCM_APP_NAME = "dumuwaks"


def fcm_app():
    """The firebase_admin App for our project, initialised once per process from
    FIREBASE_CREDENTIALS_FILE, unless an app is already registered under FCM_APP_NAME (the FCM contract
    tests register one with anonymous credentials)."""
    with _app_lock:
        try:
            return firebase_admin.get_app(FCM_APP_NAME)
        except ValueError:
            cred = credentials.Certificate(settings.FIREBASE_CREDENTIALS_FILE)
            return firebase_admin.initialize_app(cred, name=FCM_APP_NAME)


def should_prune(exc: BaseException | None) -> bool:
    if isinstance(exc, messaging.UnregisteredError | messaging.SenderIdMismatchError):
        return True
    # A malformed token is an INVALID_ARGUMENT whose message names the token; other invalid arguments
    # are our payload's fault and the device is fine.
    return (
        isinstance(exc, exceptions.InvalidArgumentError)
        and "registration token" in str(exc).lower()
    )


def _is_transient(exc: BaseException | None) -> bool:
    return isinstance(
        exc,
        messaging.QuotaExceededError
        | exceptions.UnavailableError
        | exceptions.InternalError
        | exceptions.DeadlineExceededError,
    )


def _send_fcm(targets: list[PushTarget], title: str, body: str, data: dict) -> list[PushResult]:
    tokens = [t.token for t in targets if t.kind != "fid"]
    fids = [t.token for t in targets if t.kind == "fid"]
    ordered = [t for t in targets if t.kind != "fid"] + [t for t in targets if t.kind == "fid"]
    with warnings.catch_warnings():
        # `tokens` is deprecated in favour of `fids` (firebase-admin 7.7); we still hold legacy tokens.
        warnings.simplefilter("ignore", DeprecationWarning)
        message = messaging.MulticastMessage(
            tokens=tokens or None,
            fids=fids or None,
            data=data,
            notification=messaging.Notification(title=title, body=body),
            android=messaging.AndroidConfig(priority="high"),
            apns=messaging.APNSConfig(
                payload=messaging.APNSPayload(aps=messaging.Aps(sound="default"))
            ),
        )
    batch = messaging.send_each_for_multicast(message, app=fcm_app())
    results = []
    for target, response in zip(ordered, batch.responses, strict=True):
        if response.success:
            results.append(PushResult(target=target, success=True, message_id=response.message_id))
        else:
            exc = response.exception
            results.append(
                PushResult(
                    target=target,
                    success=False,
                    error=f"{type(exc).__name__}: {exc}",
                    prune=should_prune(exc),
                    retry=_is_transient(exc),
                )
            )
    return results
