"""Uploading, registering and deleting media files.

Network calls to the storage backend happen before (upload) or outside (delete) database writes, as the style
guide asks: a failed Cloudinary call leaves no row behind, and a failed row write after a successful upload only
leaves an orphan file (logged), never a row pointing at nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from dumuwaks.core.errors import ValidationFailed
from dumuwaks.core.permissions import is_staff_member
from social.errors import (
    DirectUploadUnavailable,
    FileTooLarge,
    InvalidMediaRefs,
    InvalidUploadSignature,
    MediaNotFound,
    TooManyFiles,
    UnsupportedFileType,
)
from social.models import MediaAsset, MediaBackendName
from social.selectors.media import media_find_live
from social.storage import files as media_files
from social.storage.cloudinary import CloudinaryStorage
from social.storage.files import StoredMedia, owner_folder, owner_prefix
from social.storage.validation import (
    IMAGE_FORMATS,
    MAX_IMAGE_BYTES,
    MAX_VIDEO_BYTES,
    VIDEO_FORMATS,
    inspect_upload,
)

logger = logging.getLogger(__name__)

MAX_FILES_PER_REQUEST = 10


def _asset_from_stored(*, owner, stored: StoredMedia, backend: str) -> MediaAsset:
    return MediaAsset(
        owner=owner,
        public_id=stored.public_id,
        url=stored.url,
        secure_url=stored.secure_url,
        thumbnail_url=stored.thumbnail_url,
        optimized_url=stored.optimized_url,
        resource_type=stored.resource_type,
        format=stored.format,
        bytes=stored.bytes,
        width=stored.width,
        height=stored.height,
        duration=stored.duration,
        version=stored.version,
        folder=stored.folder,
        original_filename=stored.original_filename,
        backend=backend,
    )


def media_upload(
    *, owner: User, uploaded, allowed: tuple[str, ...] = ("image", "video"), purpose="uploads"
) -> MediaAsset:
    return media_upload_many(owner=owner, files=[uploaded], allowed=allowed, purpose=purpose)[0]


def media_upload_many(
    *, owner: User, files: list, allowed: tuple[str, ...] = ("image", "video"), purpose="uploads"
) -> list[MediaAsset]:
    """Validate every file by content first (one bad file stores nothing), then store them in order."""
    if not files:
        raise ValidationFailed(fields={"file": ["Attach at least one file."]})
    if len(files) > MAX_FILES_PER_REQUEST:
        raise TooManyFiles(f"At most {MAX_FILES_PER_REQUEST} files per request.")
    checked = []
    for index, uploaded in enumerate(files):
        try:
            checked.append((uploaded, inspect_upload(uploaded, allowed=allowed)))
        except UnsupportedFileType as exc:
            if len(files) > 1:
                exc.fields = {f"files.{index}": next(iter((exc.fields or {}).values()), [])}
            raise
    folder = owner_folder(owner.id, purpose)
    backend = media_files.storage_backend_name(media_files.media_storage())
    stored_files: list[StoredMedia] = []
    try:
        for uploaded, sniffed in checked:
            stored_files.append(
                media_files.store(uploaded=uploaded, sniffed=sniffed, folder=folder)
            )
    except Exception:
        for stored in stored_files:  # best effort: do not leave half of a batch behind
            _delete_quietly(stored.public_id, stored.format)
        raise
    assets = [_asset_from_stored(owner=owner, stored=s, backend=backend) for s in stored_files]
    with transaction.atomic():
        MediaAsset.objects.bulk_create(assets)
    return assets


def media_upload_profile_picture(*, user: User, uploaded) -> MediaAsset:
    asset = media_upload(owner=user, uploaded=uploaded, allowed=("image",), purpose="avatars")
    avatar_url = asset.optimized_url or asset.delivery_url
    User.objects.filter(pk=user.pk).update(avatar_url=avatar_url, updated_at=timezone.now())
    user.avatar_url = avatar_url
    return asset


def _delete_quietly(public_id: str, fmt: str) -> None:
    try:
        media_files.delete(public_id=public_id, format=fmt)
    except Exception:
        logger.exception("could not clean up media %s", public_id)


def _asset_for_delete(*, actor: User, public_id: str) -> MediaAsset:
    asset = media_find_live(public_id=public_id)
    # Another user's asset answers exactly like a missing one: ids must not be probeable.
    if asset is None or (asset.owner_id != actor.id and not is_staff_member(actor)):
        raise MediaNotFound()
    return asset


def media_delete(*, actor: User, public_id: str) -> MediaAsset:
    """Delete the file from the configured storage, then mark the row. Safe to repeat after a failure:
    a missing file counts as deleted."""
    asset = _asset_for_delete(actor=actor, public_id=public_id)
    media_file_delete(asset=asset)
    now = timezone.now()
    MediaAsset.objects.filter(pk=asset.pk, is_deleted=False).update(
        is_deleted=True, deleted_at=now, updated_at=now
    )
    asset.is_deleted, asset.deleted_at = True, now
    return asset


def media_delete_many(*, actor: User, public_ids: list[str]) -> dict[str, list[str]]:
    deleted, not_found = [], []
    for public_id in dict.fromkeys(public_ids):
        try:
            media_delete(actor=actor, public_id=public_id)
        except MediaNotFound:
            not_found.append(public_id)
        else:
            deleted.append(public_id)
    return {"deleted": deleted, "not_found": not_found}


def media_file_delete(*, asset: MediaAsset) -> None:
    """Remove the asset's file (and thumbnail) from storage; repeatable, a missing file counts as deleted."""
    storage = media_files.media_storage()
    if asset.backend != media_files.storage_backend_name(storage):
        # Stored under another MEDIA_BACKEND (a development database switched storages): that storage is not
        # configured here, so only the row is marked; the file is the other storage's to clean up.
        logger.warning("media %s is on %s storage, not deleting its file", asset.pk, asset.backend)
        return
    media_files.delete(public_id=asset.public_id, format=asset.format)


def _direct_upload_storage() -> CloudinaryStorage:
    storage = media_files.media_storage()
    if not isinstance(storage, CloudinaryStorage):
        raise DirectUploadUnavailable()
    return storage


def _discard_direct_upload(storage: CloudinaryStorage, stored: StoredMedia) -> None:
    try:
        storage.destroy(public_id=stored.public_id, resource_type=stored.resource_type)
    except Exception:
        logger.exception("could not clean up media %s", stored.public_id)


def media_direct_upload_sign(*, owner: User, resource_type: str) -> dict:
    return _direct_upload_storage().sign_direct_upload(
        folder=owner_folder(owner.id, "direct"), resource_type=resource_type
    )


def media_direct_upload_confirm(
    *, owner: User, public_id: str, version: int, signature: str, resource_type: str
) -> tuple[MediaAsset, bool]:
    """Register a file the client uploaded straight to Cloudinary with a signature from us.

    Returns (asset, created). Checks, in order: Cloudinary's response signature over public_id+version, that the
    file lies in the caller's own folder, then the authoritative size/format from the Admin API (a file that
    breaks our limits is destroyed at Cloudinary and refused).
    """
    storage = _direct_upload_storage()
    if not storage.verify_response_signature(
        public_id=public_id, version=version, signature=signature
    ):
        raise InvalidUploadSignature()
    if not public_id.startswith(owner_prefix(owner.id)):
        raise InvalidUploadSignature("This upload was not made into your folder.")
    existing = MediaAsset.objects.filter(public_id=public_id).first()
    if existing is not None:
        if existing.owner_id != owner.id or existing.is_deleted:
            raise MediaNotFound()
        return existing, False
    resource = storage.resource(public_id=public_id, resource_type=resource_type)
    if resource is None:
        raise MediaNotFound()
    stored = media_files.stored_from_cloudinary_resource(
        resource, folder=public_id.rpartition("/")[0]
    )
    formats, limit = (
        (IMAGE_FORMATS, MAX_IMAGE_BYTES)
        if stored.resource_type == "image"
        else (VIDEO_FORMATS, MAX_VIDEO_BYTES)
    )
    fmt = "jpg" if stored.format == "jpeg" else stored.format
    if stored.resource_type not in ("image", "video") or fmt not in formats:
        _discard_direct_upload(storage, stored)
        raise UnsupportedFileType()
    if stored.bytes > limit:
        _discard_direct_upload(storage, stored)
        raise FileTooLarge(extra={"maxBytes": limit})
    stored.format = fmt
    asset = _asset_from_stored(owner=owner, stored=stored, backend=MediaBackendName.CLOUDINARY)
    try:
        with transaction.atomic():
            asset.save()
    except IntegrityError:  # a concurrent confirm of the same upload won
        return MediaAsset.objects.get(public_id=public_id, owner=owner), False
    return asset, True


def media_resolve_owned(
    *,
    owner: User,
    media_ids=None,
    public_ids=None,
    limit: int,
    field: str = "media_ids",
) -> list[MediaAsset]:
    """The one rule for attaching media to anything (posts, reviews, chat messages, bookings): only the
    caller's own live uploads, in the order given. Assets are named by primary key (`media_ids`, posts
    and reviews) or by storage id (`public_ids`, the `publicId` of chat and booking attachments).
    Someone else's asset is reported like a missing one, so ids cannot be probed; errors name `field`."""
    if public_ids is not None:
        key, wanted = "public_id", list(dict.fromkeys(public_ids))
    else:
        key, wanted = "pk", list(dict.fromkeys(media_ids or []))
    if len(wanted) > limit:
        raise InvalidMediaRefs(
            f"At most {limit} media files.", fields={field: [f"At most {limit}."]}
        )
    assets = MediaAsset.objects.filter(owner=owner, is_deleted=False).in_bulk(
        wanted, field_name=key
    )
    missing = [i for i in wanted if i not in assets]
    if missing:
        raise InvalidMediaRefs(
            "Some media ids are unknown or not yours.",
            fields={field: [f"Unknown media: {', '.join(map(str, missing))}"]},
        )
    return [assets[i] for i in wanted]


def media_resolve_refs(*, owner: User, refs, limit: int, field: str) -> list[MediaAsset]:
    """Attachments as clients send them to chat and bookings (MediaRefInputSerializer: {"public_id"};
    other keys ignored) → the owner's assets, by `media_resolve_owned`. A reference without a
    publicId is refused like an unknown one, naming `field`."""
    public_ids = []
    for ref in refs or ():
        public_id = ref.get("public_id") if isinstance(ref, Mapping) else None
        if not isinstance(public_id, str) or not public_id:
            raise InvalidMediaRefs(
                "Each attachment is the publicId of one of your uploads.",
                fields={field: ["Send the publicId of one of your uploads."]},
            )
        public_ids.append(public_id)
    return media_resolve_owned(owner=owner, public_ids=public_ids, limit=limit, field=field)


def media_optimized_url(*, asset: MediaAsset, **options) -> str:
    storage = media_files.media_storage()
    same_storage = asset.backend == media_files.storage_backend_name(storage)
    return media_files.optimized_url(storage if same_storage else None, asset, **options)
