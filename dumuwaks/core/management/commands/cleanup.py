"""`manage.py cleanup`: housekeeping an operator runs from cron (or by hand with --dry-run first).

Each part is independent:
- expired JWT refresh tokens (simplejwt outstanding tokens, and their blacklist rows with them);
- read in-app notifications older than --days;
- stale pending payments (older than --payment-hours): resolved through the payments service (STK query,
  or expiry once the payment window closed) — never deleted, they are money records;
- orphaned media: soft-deleted media assets older than --days (files removed, rows deleted) and, with the
  local media backend, files under the media folder that no live media asset owns (older than --days).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.management.base import BaseCommand, CommandError
from django.db.models import ProtectedError
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from notifications.models import Notification
from payments.models import ACTIVE_PAYMENT_STATUSES, Payment
from payments.services.payments import payment_query_status
from social.models import MediaAsset
from social.services.media import media_file_delete
from social.storage.files import media_storage


class Command(BaseCommand):
    help = "Delete expired tokens, old read notifications and orphaned media; resolve stale pending payments."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report what would change")
        parser.add_argument(
            "--days", type=int, default=30, help="age for notifications and media (default 30)"
        )
        parser.add_argument(
            "--payment-hours",
            type=int,
            default=24,
            help="pending payments older than this are resolved (default 24)",
        )

    def handle(self, *args, **options):
        if options["days"] < 0 or options["payment_hours"] < 0:
            raise CommandError("--days and --payment-hours must not be negative.")
        self.dry_run = options["dry_run"]
        now = timezone.now()
        cutoff = now - timedelta(days=options["days"])
        prefix = "[dry run] " if self.dry_run else ""
        results = {
            "expired_tokens": self._tokens(now),
            "read_notifications": self._notifications(cutoff),
            "stale_payments": self._payments(now - timedelta(hours=options["payment_hours"])),
            "orphaned_media": self._media(cutoff),
        }
        for name, result in results.items():
            self.stdout.write(f"{prefix}{name}: {result}")

    # Each part returns the number of rows (or files) affected, or that would be with --dry-run.

    def _tokens(self, now: datetime) -> int:
        expired = OutstandingToken.objects.filter(expires_at__lt=now)
        count = expired.count()
        if not self.dry_run:
            expired.delete()  # BlacklistedToken rows cascade
        return count

    def _notifications(self, cutoff: datetime) -> int:
        old = Notification.objects.filter(is_read=True, read_at__lt=cutoff)
        count = old.count()
        if not self.dry_run:
            old.delete()
        return count

    def _payments(self, cutoff: datetime) -> int:
        ids = list(
            Payment.objects.filter(status__in=ACTIVE_PAYMENT_STATUSES, created_at__lt=cutoff)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if self.dry_run:
            return len(ids)
        resolved = 0
        for payment_id in ids:
            try:
                payment = payment_query_status(payment_id=payment_id)
            except Exception as exc:  # one provider hiccup must not stop the sweep
                self.stderr.write(f"payment {payment_id}: {exc}")
                continue
            resolved += payment.status not in ACTIVE_PAYMENT_STATUSES
        return resolved

    def _media(self, cutoff: datetime) -> int:
        removed = 0
        deleted = MediaAsset.objects.filter(is_deleted=True, deleted_at__lt=cutoff).order_by("pk")
        for asset in deleted:
            if self.dry_run:
                removed += 1
                continue
            try:
                media_file_delete(asset=asset)
            except Exception as exc:  # the row stays and is retried next run
                self.stderr.write(f"media {asset.public_id}: {exc}")
                continue
            try:
                asset.delete()
            except ProtectedError:
                continue
            removed += 1
        return removed + self._orphan_files(cutoff)

    def _orphan_files(self, cutoff: datetime) -> int:
        """Local disk only: files no live asset owns (crashed uploads, rows deleted elsewhere). Cloudinary
        is not listed (its Admin API is rate-limited); there an upload that fails leaves no row to orphan."""
        storage = media_storage()
        # Only the folder uploads are written to: other files under MEDIA_ROOT are not ours to judge.
        media_folder = settings.MEDIA_FOLDER_ROOT
        if not isinstance(storage, FileSystemStorage) or not media_folder:
            return 0
        live = set(MediaAsset.objects.filter(is_deleted=False).values_list("public_id", flat=True))
        removed = 0
        for name in _walk(storage, media_folder):
            if storage.get_modified_time(name) >= cutoff:
                continue
            if name.rsplit(".", 1)[0].removesuffix("_thumb") in live:
                continue
            if not self.dry_run:
                storage.delete(name)
            removed += 1
        return removed


def _walk(storage: FileSystemStorage, folder: str):
    """Every file name under `folder`, through the storage API."""
    try:
        folders, names = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in names:
        yield f"{folder}/{name}"
    for sub in folders:
        yield from _walk(storage, f"{folder}/{sub}")
