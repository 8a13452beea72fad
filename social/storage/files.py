"""Storing, serving and deleting uploaded media through Django's storage API.

Which storage holds the files is configuration: `STORAGES["default"]` (settings, chosen by `MEDIA_BACKEND`) is
`FileSystemStorage` under MEDIA_ROOT for development and tests, `social.storage.cloudinary.CloudinaryStorage`
in production. This module only calls `save`, `url` and `delete` on it, plus Cloudinary's delivery
transformations where the storage is Cloudinary's (thumbnails and resized URLs cost nothing there; elsewhere a
400 px thumbnail is stored beside the image).

Images are re-encoded here whatever the storage (which also drops EXIF/GPS data before the file leaves the
server), limited to 1920 px; videos are stored as uploaded. Network calls happen outside any database
transaction: the media service stores first and writes rows afterwards.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from PIL import Image, ImageOps

from social.models import MediaBackendName
from social.storage.cloudinary import CloudinaryStorage
from social.storage.validation import SniffedFile

MAX_IMAGE_SIDE = 1920
THUMBNAIL_SIDE = 400

_PIL_SAVE = {
    "jpg": ("JPEG", {"quality": 85, "optimize": True}),
    "png": ("PNG", {"optimize": True}),
    "webp": ("WEBP", {"quality": 85}),
}


@dataclass
class StoredMedia:
    public_id: str
    url: str
    secure_url: str
    thumbnail_url: str
    optimized_url: str
    resource_type: str
    format: str
    bytes: int
    width: int | None
    height: int | None
    duration: float | None
    version: int | None
    folder: str
    original_filename: str = ""


def media_storage() -> Storage:
    return storages["default"]


def storage_backend_name(storage: Storage) -> str:
    """What `MediaAsset.backend` records: where the file lives, so it is served and deleted there."""
    if isinstance(storage, CloudinaryStorage):
        return MediaBackendName.CLOUDINARY
    return MediaBackendName.LOCAL


def owner_folder(user_id: int, purpose: str = "uploads") -> str:
    """Every file of a user lives under one prefix, so a signed direct upload can be checked for ownership."""
    return f"{settings.MEDIA_FOLDER_ROOT}/users/{user_id}/{purpose}"


def owner_prefix(user_id: int) -> str:
    return f"{settings.MEDIA_FOLDER_ROOT}/users/{user_id}/"


def _absolute(url: str) -> str:
    # FileSystemStorage answers MEDIA_URL paths; clients need the full address.
    if url.startswith("/"):
        return settings.PUBLIC_API_URL.rstrip("/") + url
    return url


def _thumbnail_name(public_id: str, fmt: str) -> str:
    return f"{public_id}_thumb.{fmt}"


def store(*, uploaded, sniffed: SniffedFile, folder: str) -> StoredMedia:
    storage = media_storage()
    public_id = f"{folder}/{uuid.uuid4().hex}"
    width, height, thumb = sniffed.width, sniffed.height, None
    uploaded.seek(0)
    if sniffed.resource_type == "image":
        data, width, height, thumb = _process_image(uploaded, sniffed)
        content = ContentFile(data)
        size = len(data)
    else:
        content, size = uploaded, sniffed.size
    name = storage.save(f"{public_id}.{sniffed.format}", content)
    public_id = name.rpartition(".")[0]
    url = _absolute(storage.url(name))
    stored = StoredMedia(
        public_id=public_id,
        url=url,
        secure_url=url if url.startswith("https://") else "",
        thumbnail_url="",
        optimized_url=url,
        resource_type=sniffed.resource_type,
        format=sniffed.format,
        bytes=size,
        width=width,
        height=height,
        duration=None,
        version=None,
        folder=folder,
        original_filename=(getattr(uploaded, "name", "") or "")[:255],
    )
    if isinstance(storage, CloudinaryStorage):
        result = storage.upload_result(name)
        stored.url = result.get("url") or url
        stored.secure_url = result.get("secure_url") or url
        stored.version = result.get("version")
        stored.duration = result.get("duration")
        stored.optimized_url = optimized_url(storage, stored)
        stored.thumbnail_url = _cloudinary_thumbnail_url(storage, stored)
    elif thumb is not None:
        data, fmt = thumb
        try:
            thumb_name = storage.save(_thumbnail_name(public_id, fmt), ContentFile(data))
        except Exception:
            storage.delete(name)  # no half-stored upload
            raise
        stored.thumbnail_url = _absolute(storage.url(thumb_name))
    return stored


def stored_from_cloudinary_resource(resource: dict, *, folder: str) -> StoredMedia:
    """A file a client uploaded straight to Cloudinary, as its Admin API describes it."""
    storage = media_storage()
    public_id = resource["public_id"]
    stored = StoredMedia(
        public_id=public_id,
        url=resource.get("url") or resource.get("secure_url", ""),
        secure_url=resource.get("secure_url", ""),
        thumbnail_url="",
        optimized_url="",
        resource_type=resource.get("resource_type", "image"),
        format=(resource.get("format") or "")[:16],
        bytes=int(resource.get("bytes") or 0),
        width=resource.get("width"),
        height=resource.get("height"),
        duration=resource.get("duration"),
        version=resource.get("version"),
        folder=folder,
        original_filename=(resource.get("original_filename") or "")[:255],
    )
    stored.optimized_url = optimized_url(storage, stored)
    stored.thumbnail_url = _cloudinary_thumbnail_url(storage, stored)
    return stored


def _cloudinary_thumbnail_url(storage: CloudinaryStorage, stored) -> str:
    if stored.resource_type == "video":
        return storage.transformed_url(
            stored.public_id,
            resource_type="video",
            version=stored.version,
            start_offset="auto",
            format="jpg",
        )
    return optimized_url(storage, stored, width=THUMBNAIL_SIDE, height=THUMBNAIL_SIDE)


def optimized_url(
    storage: Storage | None,
    asset,
    *,
    width: int | None = None,
    height: int | None = None,
    crop: str | None = None,
    quality: str = "auto",
    fetch_format: str = "auto",
) -> str:
    """A delivery URL for `asset` (a MediaAsset or StoredMedia) at most `width` x `height`: Cloudinary
    transforms on delivery; elsewhere (or `storage` None: the file is not on the configured storage) the
    stored thumbnail serves small widths, the file itself the rest."""
    if not isinstance(storage, CloudinaryStorage):
        if width and width <= THUMBNAIL_SIDE and asset.thumbnail_url:
            return asset.thumbnail_url
        return asset.secure_url or asset.url
    steps = []
    resize = {k: v for k, v in {"width": width, "height": height, "crop": crop}.items() if v}
    if resize:
        resize.setdefault("crop", "limit")
        steps.append(resize)
    steps.append({"quality": quality, "fetch_format": fetch_format})
    return storage.transformed_url(
        asset.public_id,
        resource_type=asset.resource_type,
        version=asset.version,
        transformation=steps,
    )


def delete(*, public_id: str, format: str) -> None:
    """Remove the file and its thumbnail; a file already gone counts as deleted."""
    storage = media_storage()
    storage.delete(f"{public_id}.{format}")
    if not isinstance(storage, CloudinaryStorage):
        for fmt in {format, "png"}:  # a GIF's thumbnail is a PNG
            storage.delete(_thumbnail_name(public_id, fmt))


def _process_image(uploaded, sniffed: SniffedFile):
    """(data, width, height, (thumbnail data, thumbnail format))."""
    with Image.open(uploaded) as image:
        image.load()
        thumb = ImageOps.exif_transpose(image.copy())
        thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        if sniffed.format == "gif":
            # Re-encoding would drop the animation: keep the original bytes, thumbnail the first frame.
            uploaded.seek(0)
            data = uploaded.read()
            width, height = image.size
            return data, width, height, (_encode(thumb, "png"), "png")
        main = ImageOps.exif_transpose(image)
        main.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
        width, height = main.size
        return (
            _encode(main, sniffed.format),
            width,
            height,
            (_encode(thumb, sniffed.format), sniffed.format),
        )


def _encode(image: Image.Image, fmt: str) -> bytes:
    pil_format, options = _PIL_SAVE.get(fmt, ("PNG", {"optimize": True}))
    if pil_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    elif pil_format in ("PNG", "WEBP") and image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image = image.convert("RGBA")
    buffer = io.BytesIO()
    image.save(buffer, format=pil_format, **options)
    return buffer.getvalue()
