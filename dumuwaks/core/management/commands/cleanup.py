"""`manage.py cleanup`: housekeeping an operator runs from cron (or by hand with --dry-run first).

Each part is independent and skipped with a note when its app or model is not installed:
- expired JWT refresh tokens (simplejwt outstanding tokens, and their blacklist rows with them);
- read in-app notifications older than --days;
- stale pending payments (older than --payment-hours): resolved through the payments service (STK query,
  or expiry once the payment window closed) — never deleted, they are money records;
- orphaned media: soft-deleted media assets older than --days (files removed, rows deleted) and, with the
  local media backend, files under the media folder that no live media asset owns (older than --days).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import ProtectedError
from django.utils import timezone


def _model(label: str):
    try:
        return apps.get_model(label)
    except LookupError:  # the app (or model) is not part of this build
        return None


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

    # Each part returns an int (rows affected / would be affected) or a string saying why it was skipped.

    def _tokens(self, now: datetime):
        model = _model("token_blacklist.OutstandingToken")
        if model is None:
            return "skipped (simplejwt token blacklist not installed)"
        expired = model.objects.filter(expires_at__lt=now)
        count = expired.count()
        if not self.dry_run:
            expired.delete()  # BlacklistedToken rows cascade
        return count

    def _notifications(self, cutoff: datetime):
        model = _model("notifications.Notification")
        if model is None:
            return "skipped (notifications not installed)"
        fields = {f.name for f in model._meta.get_fields()}
        if not {"is_read", "read_at"} <= fields:
            return "skipped (notifications have no read state)"
        old = model.objects.filter(is_read=True, read_at__lt=cutoff)
        count = old.count()
        if not self.dry_run:
            old.delete()
        return count

    def _payments(self, cutoff: datetime):
        model = _model("payments.Payment")
        if model is None:
            return "skipped (payments not installed)"
        try:
            from payments.models import ACTIVE_PAYMENT_STATUSES
            from payments.services.payments import payment_query_status
        except ImportError:
            return "skipped (payments has no status query service)"
        ids = list(
            model.objects.filter(status__in=ACTIVE_PAYMENT_STATUSES, created_at__lt=cutoff)
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

    def _media(self, cutoff: datetime):
        model = _model("social.MediaAsset")
        if model is None:
            return "skipped (social media assets not installed)"
        removed = 0
        backend = None
        try:
            from social.storage.backends import get_media_backend

            backend = get_media_backend()
        except ImportError:
            pass
        for asset in model.objects.filter(is_deleted=True, deleted_at__lt=cutoff).order_by("pk"):
            if self.dry_run:
                removed += 1
                continue
            if backend is not None:
                try:
                    backend.delete(
                        public_id=asset.public_id,
                        resource_type=asset.resource_type,
                        format=asset.format,
                    )
                except Exception as exc:  # the row stays and is retried next run
                    self.stderr.write(f"media {asset.public_id}: {exc}")
                    continue
            try:
                asset.delete()
            except ProtectedError:
                continue
            removed += 1
        return removed + self._orphan_files(model, cutoff)

    def _orphan_files(self, model, cutoff: datetime) -> int:
        """Local backend only: files no live asset owns (crashed uploads, rows deleted elsewhere)."""
        if getattr(settings, "MEDIA_BACKEND", "local") != "local":
            return 0
        # Only the folder the media backend writes to: other files under MEDIA_ROOT are not ours to judge.
        media_folder = getattr(settings, "MEDIA_FOLDER_ROOT", "")
        root = Path(settings.MEDIA_ROOT)
        folder = root / media_folder
        if not media_folder or not folder.is_dir():
            return 0
        live = set(model.objects.filter(is_deleted=False).values_list("public_id", flat=True))
        cutoff_ts = cutoff.timestamp()
        removed = 0
        for path in folder.rglob("*"):
            if not path.is_file() or path.stat().st_mtime >= cutoff_ts:
                continue
            stem = path.relative_to(root).as_posix().rsplit(".", 1)[0].removesuffix("_thumb")
            if stem in live:
                continue
            if not self.dry_run:
                os.remove(path)
            removed += 1
        return removed
