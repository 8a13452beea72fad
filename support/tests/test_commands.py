"""The operator commands `seed` and `cleanup` run for real against the test database."""

import io
import os
import time
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import Role, TechnicianProfile, User
from bookings.models import BOOKING_MACHINE, Booking, BookingStatus
from bookings.tests.factories import BookingFactory
from dumuwaks.core.phone import is_valid_phone
from notifications.models import Notification
from payments.models import Payment, PaymentStatus
from payments.selectors.reconciliation import ledger_reconciliation_check
from social.models import MediaAsset
from support.models import SupportTicket

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_seed_demo_is_complete_consistent_fast_and_idempotent():
    started = time.monotonic()
    output = _run("seed", "--demo")
    assert time.monotonic() - started < 30
    assert "seed done" in output and "bookings" in output

    for email in (
        "customer@dumuwaks.test",
        "technician@dumuwaks.test",
        "corporate@dumuwaks.test",
        "support@dumuwaks.test",
        "admin@dumuwaks.test",
    ):
        assert User.objects.get(email=email).check_password("DumuWaks2026!")
    seeded = User.objects.filter(email__endswith="@seed.dumuwaks.test")
    assert seeded.filter(role=Role.CUSTOMER).count() == 12
    assert seeded.filter(role=Role.TECHNICIAN).count() == 16
    assert all(
        is_valid_phone(p) and p.startswith("+2547")
        for p in seeded.values_list("phone_number", flat=True)
    )
    assert all(u.county and u.latitude for u in seeded)
    assert not TechnicianProfile.objects.filter(user__in=seeded, skill_links__isnull=True).exists()

    by_status = dict(Booking.objects.values_list("status").annotate(n=Count("id")))
    assert set(by_status) == set(BookingStatus.values)  # every status present
    assert sum(by_status.values()) == 40
    for booking in Booking.objects.all():
        assert booking.deposit_amount + booking.balance_amount == booking.price
        assert booking.platform_fee + booking.technician_share == booking.price
        assert booking.status_history.last().to_status == booking.status
    assert SupportTicket.objects.count() == 6
    assert Booking.objects.filter(customer__email="customer@dumuwaks.test").exists()

    assert ledger_reconciliation_check().ok

    counts = (User.objects.count(), Booking.objects.count(), SupportTicket.objects.count())
    again = _run("seed", "--demo")
    assert "0 new bookings, 0 new tickets" in again
    assert (User.objects.count(), Booking.objects.count(), SupportTicket.objects.count()) == counts


def test_seed_sizes_are_options():
    _run("seed", "--customers", "3", "--technicians", "4", "--bookings", "15", "--tickets", "2")
    seeded = User.objects.filter(email__endswith="@seed.dumuwaks.test")
    assert seeded.filter(role=Role.CUSTOMER).count() == 3
    assert seeded.filter(role=Role.TECHNICIAN).count() == 4
    assert Booking.objects.count() == 15
    assert SupportTicket.objects.count() == 2
    # Growing the sizes tops up instead of starting over.
    _run("seed", "--customers", "5", "--technicians", "4", "--bookings", "20", "--tickets", "2")
    assert seeded.filter(role=Role.CUSTOMER).count() == 5
    assert Booking.objects.count() == 20


def test_seed_history_follows_the_booking_machine_and_announces_nothing(
    domain_events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _run("seed", "--customers", "3", "--technicians", "4", "--bookings", "15", "--tickets", "0")

    assert Booking.objects.count() == 15
    for booking in Booking.objects.prefetch_related("status_history"):
        trail = list(booking.status_history.all())
        assert trail[0].from_status == ""
        assert trail[-1].to_status == booking.status
        for before, after in pairwise(trail):
            assert after.from_status == before.to_status
            assert BOOKING_MACHINE.allows(after.from_status, after.to_status)
            assert before.created_at <= after.created_at
        assert trail[0].created_at == booking.created_at
        assert trail[-1].created_at <= timezone.now()
    # A fabricated past is not news: no booking, dispute, payment or payout event went out.
    assert not [name for name, _payload in domain_events if not name.startswith("support.")]


# --- cleanup -----------------------------------------------------------------------------------------------------


@pytest.fixture
def housekeeping(customer, technician, settings, tmp_path):
    """One row of each kind that cleanup must remove, next to one it must keep."""
    now = timezone.now()
    expired = OutstandingToken.objects.create(
        user=customer, jti="expired-jti", token="x", expires_at=now - timedelta(days=1)
    )
    BlacklistedToken.objects.create(token=expired)
    live = OutstandingToken.objects.create(
        user=customer, jti="live-jti", token="y", expires_at=now + timedelta(days=1)
    )

    def note(**kwargs):
        return Notification.objects.create(
            user=customer, type="booking.accepted", group="bookings", title="Accepted", **kwargs
        )

    old_read = note(is_read=True, read_at=now - timedelta(days=40))
    recent_read = note(is_read=True, read_at=now - timedelta(days=2))
    old_unread = note(is_read=False)

    booking = BookingFactory(customer=customer, technician=technician)
    stale = Payment.objects.create(
        booking=booking,
        payer=customer,
        purpose="deposit",
        amount=booking.deposit_amount,
        phone=customer.phone_number,
        status=PaymentStatus.PENDING,
        expires_at=now - timedelta(hours=30),
    )
    Payment.objects.filter(pk=stale.pk).update(created_at=now - timedelta(hours=30))

    media_root = Path(settings.MEDIA_ROOT)
    folder = media_root / settings.MEDIA_FOLDER_ROOT / "users" / str(customer.pk) / "uploads"
    folder.mkdir(parents=True)

    def media_file(name: str, age_days: int) -> Path:
        path = folder / name
        path.write_bytes(b"jpeg")
        stamp = (now - timedelta(days=age_days)).timestamp()
        os.utime(path, (stamp, stamp))
        return path

    kept_public_id = f"{settings.MEDIA_FOLDER_ROOT}/users/{customer.pk}/uploads/kept"
    MediaAsset.objects.create(
        owner=customer,
        public_id=kept_public_id,
        url="http://localhost/media/kept.jpg",
        resource_type="image",
        format="jpg",
        backend="local",
    )
    deleted_asset = MediaAsset.objects.create(
        owner=customer,
        public_id=f"{settings.MEDIA_FOLDER_ROOT}/users/{customer.pk}/uploads/gone",
        url="http://localhost/media/gone.jpg",
        resource_type="image",
        format="jpg",
        backend="local",
        is_deleted=True,
        deleted_at=now - timedelta(days=45),
    )
    return {
        "expired": expired,
        "live": live,
        "old_read": old_read,
        "recent_read": recent_read,
        "old_unread": old_unread,
        "stale": stale,
        "deleted_asset": deleted_asset,
        "kept_file": media_file("kept.jpg", 60),
        "kept_thumb": media_file("kept_thumb.jpg", 60),
        "orphan": media_file("crashed-upload.jpg", 60),
        "fresh_orphan": media_file("uploading-now.jpg", 0),
    }


def test_cleanup_dry_run_changes_nothing(housekeeping):
    output = _run("cleanup", "--dry-run", "--days", "30")
    assert "[dry run] expired_tokens: 1" in output
    assert "[dry run] read_notifications: 1" in output
    assert "[dry run] stale_payments: 1" in output
    assert "[dry run] orphaned_media: 2" in output  # the soft-deleted asset and the orphan file
    assert OutstandingToken.objects.count() == 2
    assert Notification.objects.count() == 3
    assert Payment.objects.get(pk=housekeeping["stale"].pk).status == "pending"
    assert housekeeping["orphan"].exists()


def test_cleanup_removes_only_what_is_stale(housekeeping):
    output = _run("cleanup", "--days", "30")
    assert "expired_tokens: 1" in output and "stale_payments: 1" in output

    assert list(OutstandingToken.objects.values_list("jti", flat=True)) == ["live-jti"]
    assert BlacklistedToken.objects.count() == 0
    assert set(Notification.objects.values_list("pk", flat=True)) == {
        housekeeping["recent_read"].pk,
        housekeeping["old_unread"].pk,
    }
    assert Payment.objects.get(pk=housekeeping["stale"].pk).status == "expired"
    assert not MediaAsset.objects.filter(pk=housekeeping["deleted_asset"].pk).exists()
    assert not housekeeping["orphan"].exists()
    assert housekeeping["kept_file"].exists() and housekeeping["kept_thumb"].exists()
    assert housekeeping["fresh_orphan"].exists()


def test_cleanup_rejects_negative_ages():
    with pytest.raises(CommandError):
        _run("cleanup", "--days", "-1")


def test_load_demo_data_delegates_to_seed_demo():
    output = _run("load_demo_data")
    assert "seed done" in output
    assert User.objects.filter(email__endswith="@seed.dumuwaks.test").count() == 28
