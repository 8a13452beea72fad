"""External delivery (push, SMS, email) against local fakes of FCM, Africa's Talking and an SMTP server,
plus preferences: an opted-out channel sends nothing at all."""

import contextlib
import itertools
import threading
from datetime import timedelta

import firebase_admin
import google.auth.credentials
import pytest
from aiosmtpd.controller import Controller
from celery import shared_task
from django.core import mail
from django.utils import timezone
from firebase_admin import credentials, messaging

from dumuwaks.core.side_effects import enqueue_after_commit
from notifications import push, sms
from notifications.models import (
    DeliveryStatus,
    DeviceToken,
    Notification,
    NotificationDelivery,
    NotificationPreference,
)
from notifications.services import delivery as delivery_service
from notifications.services.notifications import notify
from notifications.tasks import deliver_notification, housekeeping, requeue_stuck_deliveries
from notifications.tests import fakes
from notifications.tests.factories import DeviceTokenFactory

pytestmark = pytest.mark.django_db

CONTEXT = {"booking_number": "DW-2611-000042", "technician_name": "Kiprop Cheruiyot"}


def _notify(user, type_="booking.accepted", context=CONTEXT, capture=None):
    with capture(execute=True):
        return notify(user_id=user.pk, type=type_, context=context)


def _deliveries(notification):
    return {d.channel: d for d in NotificationDelivery.objects.filter(notification=notification)}


def test_notify_delivers_on_every_enabled_channel(customer, django_capture_on_commit_callbacks):
    DeviceTokenFactory(user=customer)
    notification = _notify(customer, capture=django_capture_on_commit_callbacks)
    assert notification.is_in_app and notification.title == "Booking accepted"
    assert notification.body == "Kiprop Cheruiyot accepted your booking DW-2611-000042."
    deliveries = _deliveries(notification)
    assert {c: d.status for c, d in deliveries.items()} == {
        "push": "sent",
        "email": "sent",
        "sms": "sent",
    }
    assert all(d.attempts == 1 for d in deliveries.values())
    assert [m.to for m in mail.outbox] == [[customer.email]]
    assert mail.outbox[0].subject == "Booking accepted"
    assert "DW-2611-000042" in mail.outbox[0].body
    assert [(s.to, s.message) for s in sms.outbox] == [
        (customer.phone_number, f"Booking accepted: {notification.body}")
    ]
    assert push.outbox[0].title == "Booking accepted"
    assert push.outbox[0].data["notification_id"] == str(notification.pk)


def test_swahili_user_gets_swahili_everywhere(customer, django_capture_on_commit_callbacks):
    customer.preferred_language = "sw"
    customer.save(update_fields=["preferred_language"])
    notification = _notify(customer, capture=django_capture_on_commit_callbacks)
    assert notification.title == "Ombi limekubaliwa"
    assert notification.body == "Kiprop Cheruiyot amekubali ombi lako DW-2611-000042."
    assert mail.outbox[0].subject == "Ombi limekubaliwa"
    assert "Habari" in mail.outbox[0].body
    assert "arifa za maombi ya huduma" in mail.outbox[0].body
    assert sms.outbox[0].message.startswith("Ombi limekubaliwa: ")


def test_opted_out_channel_sends_nothing(customer, django_capture_on_commit_callbacks):
    DeviceTokenFactory(user=customer)
    for channel in ("sms", "email", "push"):
        NotificationPreference.objects.create(
            user=customer, group="bookings", channel=channel, enabled=False
        )
    notification = _notify(customer, capture=django_capture_on_commit_callbacks)
    assert notification.is_in_app
    assert not NotificationDelivery.objects.exists()
    assert sms.outbox == [] and mail.outbox == [] and push.outbox == []
    # Other groups are unaffected.
    _notify(customer, "payment.succeeded", {"amount": "600.00"}, django_capture_on_commit_callbacks)
    assert len(sms.outbox) == 1


def test_everything_off_stores_nothing(customer, django_capture_on_commit_callbacks):
    for channel in ("in_app", "sms", "email", "push"):
        NotificationPreference.objects.create(
            user=customer, group="bookings", channel=channel, enabled=False
        )
    assert _notify(customer, capture=django_capture_on_commit_callbacks) is None
    assert not Notification.objects.exists() and not NotificationDelivery.objects.exists()


def test_in_app_off_still_delivers_externally_but_hides_the_row(
    customer, customer_client, django_capture_on_commit_callbacks
):
    NotificationPreference.objects.create(
        user=customer, group="bookings", channel="in_app", enabled=False
    )
    notification = _notify(customer, capture=django_capture_on_commit_callbacks)
    assert notification.is_in_app is False
    assert len(sms.outbox) == 1
    assert customer_client.get("/api/v1/notifications").json()["count"] == 0


def test_marketing_email_and_sms_are_opt_in(customer, django_capture_on_commit_callbacks):
    notification = _notify(
        customer,
        "marketing.announcement",
        {"title": "Punguzo!", "body": "10% off plumbing"},
        django_capture_on_commit_callbacks,
    )
    assert set(_deliveries(notification)) == {"push"}
    assert sms.outbox == [] and mail.outbox == []


def test_missing_phone_or_device_is_recorded_as_skipped(
    customer, django_capture_on_commit_callbacks
):
    customer.phone_number = None
    customer.save(update_fields=["phone_number"])
    notification = _notify(customer, capture=django_capture_on_commit_callbacks)
    deliveries = _deliveries(notification)
    assert deliveries["sms"].status == DeliveryStatus.SKIPPED
    assert deliveries["push"].status == DeliveryStatus.SKIPPED
    assert deliveries["email"].status == DeliveryStatus.SENT
    assert sms.outbox == [] and push.outbox == []


def test_opt_out_after_queueing_is_honoured(customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        notification = notify(user_id=customer.pk, type="booking.accepted", context=CONTEXT)
    NotificationPreference.objects.create(
        user=customer, group="bookings", channel="sms", enabled=False
    )
    sms_delivery = _deliveries(notification)["sms"]
    deliver_notification.apply(args=[sms_delivery.pk])
    sms_delivery.refresh_from_db()
    assert sms_delivery.status == DeliveryStatus.SKIPPED and sms_delivery.attempts == 0
    assert sms.outbox == []


def test_replayed_task_does_not_send_twice(customer, django_capture_on_commit_callbacks):
    notification = _notify(customer, capture=django_capture_on_commit_callbacks)
    sms_delivery = _deliveries(notification)["sms"]
    assert deliver_notification.apply(args=[sms_delivery.pk]).get() == "nothing_to_do"
    assert len(sms.outbox) == 1


def test_an_attempt_that_loses_the_race_keeps_the_winners_outcome(
    customer, django_capture_on_commit_callbacks, monkeypatch
):
    with django_capture_on_commit_callbacks(execute=False):
        notification = notify(user_id=customer.pk, type="booking.accepted", context=CONTEXT)
    sms_delivery = _deliveries(notification)["sms"]
    send_sms = delivery_service.send_sms

    def send_while_a_replayed_attempt_settles_it(**kwargs):
        result = send_sms(**kwargs)
        NotificationDelivery.objects.filter(pk=sms_delivery.pk).update(
            status=DeliveryStatus.FAILED, error="settled by the other attempt"
        )
        return result

    monkeypatch.setattr(delivery_service, "send_sms", send_while_a_replayed_attempt_settles_it)
    outcome = delivery_service.delivery_attempt(delivery_id=sms_delivery.pk)
    assert outcome == delivery_service.NOTHING_TO_DO
    sms_delivery.refresh_from_db()
    assert (sms_delivery.status, sms_delivery.error, sms_delivery.sent_at) == (
        DeliveryStatus.FAILED,
        "settled by the other attempt",
        None,
    )


# --- FCM ---------------------------------------------------------------------------------------------------------


def test_fcm_batch_prunes_unregistered_and_sender_mismatch(
    customer, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.PUSH_BACKEND = "fcm"
    alive = DeviceTokenFactory(user=customer)
    gone = DeviceTokenFactory(user=customer)
    foreign = DeviceTokenFactory(user=customer)
    sent = []

    def fake_send_each_for_multicast(message, dry_run=False, app=None):
        sent.append(message)
        return messaging.BatchResponse(
            [
                messaging.SendResponse({"name": "projects/p/messages/1"}, None),
                messaging.SendResponse(None, messaging.UnregisteredError("not found")),
                messaging.SendResponse(None, messaging.SenderIdMismatchError("other project")),
            ]
        )

    monkeypatch.setattr(messaging, "send_each_for_multicast", fake_send_each_for_multicast)
    monkeypatch.setattr(push, "fcm_app", lambda: None)
    notification = _notify(customer, capture=django_capture_on_commit_callbacks)

    assert sent[0].tokens == [alive.token, gone.token, foreign.token]
    assert sent[0].data["type"] == "booking.accepted"  # FCM data values are strings
    assert all(isinstance(v, str) for v in sent[0].data.values())
    assert list(DeviceToken.objects.values_list("pk", flat=True)) == [alive.pk]
    push_delivery = _deliveries(notification)["push"]
    assert push_delivery.status == DeliveryStatus.SENT
    assert push_delivery.provider_message_id == "projects/p/messages/1"


@pytest.fixture
def fake_fcm_app():
    """A firebase_admin app with anonymous credentials whose FCM endpoint is a local fake (HTTP-level
    contract test; `_fcm_url` is private, so only this fixture touches it)."""

    class AnonymousCredential(credentials.Base):
        def get_credential(self):
            return google.auth.credentials.AnonymousCredentials()

    servers = []

    def _make(responder):
        server = fakes.FakeHttpServer(responder)
        servers.append(server)
        app = firebase_admin.initialize_app(
            AnonymousCredential(), {"projectId": "demo-proj"}, name=push.FCM_APP_NAME
        )
        messaging._get_messaging_service(
            app
        )._fcm_url = f"{server.base_url}/v1/projects/demo-proj/messages:send"
        return server

    yield _make
    for server in servers:
        server.close()
    with contextlib.suppress(ValueError):
        firebase_admin.delete_app(firebase_admin.get_app(push.FCM_APP_NAME))


def test_fcm_http_contract_against_local_fake(
    customer, settings, fake_fcm_app, django_capture_on_commit_callbacks
):
    settings.PUSH_BACKEND = "fcm"
    alive = DeviceTokenFactory(user=customer, token="alive-" + "a" * 150)
    dead = DeviceTokenFactory(user=customer, token="dead-" + "d" * 150)
    server = fake_fcm_app(fakes.fcm_responder({dead.token}))

    notification = _notify(customer, capture=django_capture_on_commit_callbacks)

    bodies = sorted((r.json["message"] for r in server.requests), key=lambda m: m["token"])
    assert [m["token"] for m in bodies] == [alive.token, dead.token]
    assert bodies[0]["notification"] == {
        "title": "Booking accepted",
        "body": notification.body,
    }
    assert bodies[0]["data"]["type"] == "booking.accepted"
    assert all(r.path == "/v1/projects/demo-proj/messages:send" for r in server.requests)
    assert list(DeviceToken.objects.values_list("token", flat=True)) == [alive.token]
    push_delivery = _deliveries(notification)["push"]
    assert push_delivery.status == DeliveryStatus.SENT
    assert push_delivery.provider_message_id.startswith("projects/demo-proj/messages/")


def test_fcm_throttling_is_retried_then_failed(customer, settings, fake_fcm_app):
    settings.PUSH_BACKEND = "fcm"
    device = DeviceTokenFactory(user=customer)
    fake_fcm_app(fakes.fcm_responder(set(), throttled=True))
    notification = Notification.objects.create(
        user=customer, type="booking.accepted", group="bookings", title="t", body="b"
    )
    delivery = NotificationDelivery.objects.create(notification=notification, channel="push")

    assert delivery_service.delivery_attempt(delivery_id=delivery.pk) == delivery_service.RETRY
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.QUEUED and delivery.attempts == 1
    assert "QuotaExceededError" in delivery.error
    last = delivery_service.delivery_attempt(delivery_id=delivery.pk, final_attempt=True)
    assert last == DeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 2
    assert DeviceToken.objects.filter(pk=device.pk).exists()  # an outage never prunes


# --- Africa's Talking --------------------------------------------------------------------------------------------


@pytest.fixture
def fake_africastalking(settings):
    servers = []

    def _make(status_code=101):
        server = fakes.FakeHttpServer(fakes.africastalking_responder(status_code))
        servers.append(server)
        settings.SMS_BACKEND = "africastalking"
        settings.AFRICASTALKING_USERNAME = "sandbox"
        settings.AFRICASTALKING_API_KEY = "test-api-key"
        settings.AFRICASTALKING_SENDER_ID = ""
        settings.AFRICASTALKING_API_BASE_OVERRIDE = server.base_url
        return server

    yield _make
    for server in servers:
        server.close()


def test_sms_through_africastalking_fake(
    customer, fake_africastalking, django_capture_on_commit_callbacks
):
    server = fake_africastalking()
    notification = _notify(customer, capture=django_capture_on_commit_callbacks)
    assert len(server.requests) == 1
    request = server.requests[0]
    assert request.path == "/version1/messaging"
    assert request.headers["apiKey"] == "test-api-key"
    assert request.form["username"] == "sandbox"
    assert request.form["to"] == "+254712345678"
    assert request.form["message"] == f"Booking accepted: {notification.body}"
    sms_delivery = _deliveries(notification)["sms"]
    assert sms_delivery.status == DeliveryStatus.SENT
    assert sms_delivery.provider_message_id == "ATXid_0000"


def test_sms_rejected_by_africastalking_is_failed_without_retry(
    customer, fake_africastalking, django_capture_on_commit_callbacks
):
    server = fake_africastalking(status_code=403)
    notification = _notify(customer, capture=django_capture_on_commit_callbacks)
    sms_delivery = _deliveries(notification)["sms"]
    assert sms_delivery.status == DeliveryStatus.FAILED
    assert sms_delivery.attempts == 1 and "403" in sms_delivery.error
    assert len(server.requests) == 1


def test_sms_transient_error_retries_with_backoff(customer, fake_africastalking, monkeypatch):
    fake_africastalking(status_code=500)
    notification = Notification.objects.create(
        user=customer, type="booking.accepted", group="bookings", title="t", body="b"
    )
    delivery = NotificationDelivery.objects.create(notification=notification, channel="sms")
    countdowns = []
    original_retry = deliver_notification.retry

    def spy_retry(*args, **kwargs):
        countdowns.append(kwargs.get("countdown"))
        return original_retry(*args, **kwargs)

    monkeypatch.setattr(deliver_notification, "retry", spy_retry)
    deliver_notification.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == deliver_notification.max_retries + 1
    assert len(countdowns) == deliver_notification.max_retries
    assert all(later > earlier for earlier, later in itertools.pairwise(countdowns))


# --- SMTP --------------------------------------------------------------------------------------------------------


@pytest.fixture
def smtp_server(settings):
    collector = fakes.SmtpCollector()
    port = fakes.free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield collector
    controller.stop()


def test_email_through_a_real_smtp_server(
    customer, smtp_server, django_capture_on_commit_callbacks
):
    notification = _notify(customer, capture=django_capture_on_commit_callbacks)
    assert len(smtp_server.envelopes) == 1
    _mail_from, rcpt_tos, content = smtp_server.envelopes[0]
    assert rcpt_tos == [customer.email]
    assert b"Subject: Booking accepted" in content
    assert b"DW-2611-000042" in content
    assert _deliveries(notification)["email"].status == DeliveryStatus.SENT


def test_smtp_down_is_retryable(customer, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = fakes.free_port()  # nothing listens there
    settings.EMAIL_TIMEOUT = 2
    notification = Notification.objects.create(
        user=customer, type="booking.accepted", group="bookings", title="t", body="b"
    )
    delivery = NotificationDelivery.objects.create(notification=notification, channel="email")
    assert delivery_service.delivery_attempt(delivery_id=delivery.pk) == delivery_service.RETRY
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.QUEUED and "SMTP" in delivery.error


def test_transient_failures_never_break_the_request_that_queued_them(
    customer, fake_africastalking, django_capture_on_commit_callbacks
):
    server = fake_africastalking(status_code=500)
    notification = _notify(customer, capture=django_capture_on_commit_callbacks)
    sms_delivery = _deliveries(notification)["sms"]
    assert sms_delivery.status == DeliveryStatus.FAILED
    assert sms_delivery.attempts == len(server.requests) == deliver_notification.max_retries + 1
    assert _deliveries(notification)["email"].status == DeliveryStatus.SENT


def test_stuck_deliveries_are_requeued_once_and_sent(customer):
    notification = Notification.objects.create(
        user=customer, type="booking.accepted", group="bookings", title="t", body="b"
    )
    stuck = NotificationDelivery.objects.create(notification=notification, channel="sms")
    fresh = NotificationDelivery.objects.create(notification=notification, channel="email")
    NotificationDelivery.objects.filter(pk=stuck.pk).update(
        updated_at=timezone.now() - timedelta(hours=2)
    )
    assert requeue_stuck_deliveries.apply().get() == 1
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.status == DeliveryStatus.SENT and len(sms.outbox) == 1
    assert fresh.status == DeliveryStatus.QUEUED

    old_device = DeviceTokenFactory(user=customer, last_seen=timezone.now() - timedelta(days=300))
    DeviceTokenFactory(user=customer)
    assert housekeeping.apply().get()["devices_pruned"] == 1
    assert not DeviceToken.objects.filter(pk=old_device.pk).exists()


def test_eager_dispatch_leaves_other_threads_free_to_wait_on_results(
    django_capture_on_commit_callbacks,
):
    """Other apps' threads call `result.get()` while our tasks run off their domain events. An eager
    `delay` sets Celery's process-wide "inside a task" flag, and their `get()` would raise meanwhile."""

    @shared_task(name="notifications.tests.answer")
    def answer():
        return 42

    answers = []

    def wait_on_a_result():
        try:
            answers.append(answer.apply().get())
        except RuntimeError as exc:  # "Never call result.get() within a task!"
            answers.append(str(exc))

    @shared_task(name="notifications.tests.run_while_another_thread_waits")
    def run_while_another_thread_waits():
        waiter = threading.Thread(target=wait_on_a_result)
        waiter.start()
        waiter.join()

    with django_capture_on_commit_callbacks(execute=True):
        enqueue_after_commit(run_while_another_thread_waits)
    assert answers == [42]
