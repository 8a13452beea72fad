"""Where uploaded files live: Cloudinary (production) or the local filesystem (development, offline).

Chosen by `settings.MEDIA_BACKEND`. Both return a `StoredMedia` describing the stored file; network calls happen
here, outside any database transaction (the services call the backend first and write rows afterwards).
"""

from __future__ import annotations

import io
import logging
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlparse

import cloudinary
import cloudinary.api
import cloudinary.exceptions
import cloudinary.uploader
import cloudinary.utils
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from PIL import Image, ImageOps

from social.errors import DirectUploadUnavailable, MediaProviderError
from social.storage.validation import IMAGE_FORMATS, VIDEO_FORMATS, SniffedFile

logger = logging.getLogger(__name__)

MAX_IMAGE_SIDE = 1920
THUMBNAIL_SIDE = 400
VIDEO_CHUNK_BYTES = 20_000_000
DIRECT_UPLOAD_SIGNATURE_TTL_SECONDS = 3600


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


def owner_folder(user_id: int, purpose: str = "uploads") -> str:
    """Every file of a user lives under one prefix, so a signed direct upload can be checked for ownership."""
    return f"{settings.MEDIA_FOLDER_ROOT}/users/{user_id}/{purpose}"


def owner_prefix(user_id: int) -> str:
    return f"{settings.MEDIA_FOLDER_ROOT}/users/{user_id}/"


def get_media_backend():
    if settings.MEDIA_BACKEND == "cloudinary":
        return CloudinaryMediaBackend()
    return LocalMediaBackend()


# --- local ---------------------------------------------------------------------------------------------------


_PIL_SAVE = {
    "jpg": ("JPEG", {"quality": 85, "optimize": True}),
    "png": ("PNG", {"optimize": True}),
    "webp": ("WEBP", {"quality": 85}),
}


class LocalMediaBackend:
    """Files under MEDIA_ROOT, served at MEDIA_URL. Images are re-encoded (which also drops EXIF/GPS data),
    limited to 1920 px and get a 400 px thumbnail; videos are stored as uploaded (no transcoding offline)."""

    name = "local"

    def _storage(self) -> FileSystemStorage:
        return FileSystemStorage(location=settings.MEDIA_ROOT, base_url=settings.MEDIA_URL)

    def _absolute(self, url: str) -> str:
        if url.startswith("/"):
            return settings.PUBLIC_API_URL.rstrip("/") + url
        return url

    def store(self, *, uploaded, sniffed: SniffedFile, folder: str) -> StoredMedia:
        storage = self._storage()
        public_id = f"{folder}/{uuid.uuid4().hex}"
        width, height, thumbnail_url = sniffed.width, sniffed.height, ""
        uploaded.seek(0)
        if sniffed.resource_type == "image":
            data, width, height, thumb_data, thumb_ext = self._process_image(uploaded, sniffed)
            thumb_name = storage.save(f"{public_id}_thumb.{thumb_ext}", ContentFile(thumb_data))
            thumbnail_url = self._absolute(storage.url(thumb_name))
            name = storage.save(f"{public_id}.{sniffed.format}", ContentFile(data))
            size = len(data)
        else:
            name = storage.save(f"{public_id}.{sniffed.format}", uploaded)
            size = sniffed.size
        url = self._absolute(storage.url(name))
        return StoredMedia(
            public_id=public_id,
            url=url,
            secure_url=url if url.startswith("https://") else "",
            thumbnail_url=thumbnail_url,
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

    def _process_image(self, uploaded, sniffed: SniffedFile):
        with Image.open(uploaded) as image:
            image.load()
            thumb = ImageOps.exif_transpose(image.copy())
            thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            if sniffed.format == "gif":
                # Re-encoding would drop the animation: keep the original bytes, thumbnail the first frame.
                uploaded.seek(0)
                data = uploaded.read()
                width, height = image.size
                thumb_ext = "png"
                thumb_data = _encode(thumb, "png")
            else:
                main = ImageOps.exif_transpose(image)
                main.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
                width, height = main.size
                data = _encode(main, sniffed.format)
                thumb_ext = sniffed.format
                thumb_data = _encode(thumb, sniffed.format)
        return data, width, height, thumb_data, thumb_ext

    def delete(self, *, public_id: str, resource_type: str, format: str) -> None:
        storage = self._storage()
        folder, _, key = public_id.rpartition("/")
        try:
            _, files = storage.listdir(folder)
        except FileNotFoundError:
            return
        for filename in files:
            if filename.startswith(f"{key}.") or filename.startswith(f"{key}_thumb."):
                storage.delete(f"{folder}/{filename}")

    def optimized_url(self, *, asset, width: int | None = None, **_options) -> str:
        if width and width <= THUMBNAIL_SIDE and asset.thumbnail_url:
            return asset.thumbnail_url
        return asset.delivery_url

    def sign_direct_upload(self, *, folder: str, resource_type: str) -> dict:
        raise DirectUploadUnavailable()

    def verify_response_signature(self, *, public_id: str, version: int, signature: str) -> bool:
        raise DirectUploadUnavailable()

    def fetch_resource(self, *, public_id: str, resource_type: str) -> StoredMedia | None:
        raise DirectUploadUnavailable()


def _encode(image: Image.Image, fmt: str) -> bytes:
    pil_format, options = _PIL_SAVE.get(fmt, ("PNG", {"optimize": True}))
    if pil_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    elif pil_format in ("PNG", "WEBP") and image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image = image.convert("RGBA")
    buffer = io.BytesIO()
    image.save(buffer, format=pil_format, **options)
    return buffer.getvalue()


# --- cloudinary ----------------------------------------------------------------------------------------------


def configure_cloudinary() -> None:
    """Configure the SDK from CLOUDINARY_URL (cloudinary://key:secret@cloud); tests add an upload prefix."""
    parsed = urlparse(settings.CLOUDINARY_URL)
    options = {
        "cloud_name": parsed.netloc.rpartition("@")[2],
        "api_key": parsed.username,
        "api_secret": parsed.password,
        "secure": True,
    }
    # None restores the real API host if a previous configuration (tests) set a prefix.
    options["upload_prefix"] = settings.CLOUDINARY_UPLOAD_PREFIX or None
    cloudinary.config(**options)


class CloudinaryMediaBackend:
    name = "cloudinary"

    def __init__(self):
        configure_cloudinary()

    def store(self, *, uploaded, sniffed: SniffedFile, folder: str) -> StoredMedia:
        options = {
            "folder": folder,
            "resource_type": sniffed.resource_type,
            "use_filename": False,
            "unique_filename": True,
            "overwrite": False,
            "allowed_formats": list(
                IMAGE_FORMATS if sniffed.resource_type == "image" else VIDEO_FORMATS
            ),
        }
        uploaded.seek(0)
        try:
            if sniffed.resource_type == "video":
                # Chunked upload: videos up to 100 MB would otherwise go in one request.
                result = cloudinary.uploader.upload_large(
                    uploaded, chunk_size=VIDEO_CHUNK_BYTES, **options
                )
            else:
                result = cloudinary.uploader.upload(
                    uploaded,
                    transformation={
                        "width": MAX_IMAGE_SIDE,
                        "height": MAX_IMAGE_SIDE,
                        "crop": "limit",
                    },
                    **options,
                )
        except cloudinary.exceptions.Error as exc:
            logger.warning("cloudinary upload failed: %s", exc)
            raise MediaProviderError() from exc
        stored = self._from_result(result, folder=folder)
        stored.original_filename = (getattr(uploaded, "name", "") or "")[:255]
        return stored

    def _from_result(self, result: dict, *, folder: str) -> StoredMedia:
        public_id = result["public_id"]
        resource_type = result.get("resource_type", "image")
        version = result.get("version")
        return StoredMedia(
            public_id=public_id,
            url=result.get("url") or result.get("secure_url", ""),
            secure_url=result.get("secure_url", ""),
            thumbnail_url=self._thumbnail_url(public_id, resource_type, version),
            optimized_url=self._url(
                public_id, resource_type, version, quality="auto", fetch_format="auto"
            ),
            resource_type=resource_type,
            format=(result.get("format") or "")[:16],
            bytes=int(result.get("bytes") or 0),
            width=result.get("width"),
            height=result.get("height"),
            duration=result.get("duration"),
            version=version,
            folder=folder,
            original_filename=(result.get("original_filename") or "")[:255],
        )

    def _url(self, public_id: str, resource_type: str, version, **options) -> str:
        url, _ = cloudinary.utils.cloudinary_url(
            public_id, resource_type=resource_type, version=version, secure=True, **options
        )
        return url

    def _thumbnail_url(self, public_id: str, resource_type: str, version) -> str:
        if resource_type == "video":
            return self._url(public_id, "video", version, start_offset="auto", format="jpg")
        return self._url(
            public_id,
            "image",
            version,
            transformation=[
                {"width": THUMBNAIL_SIDE, "height": THUMBNAIL_SIDE, "crop": "limit"},
                {"quality": "auto", "fetch_format": "auto"},
            ],
        )

    def delete(self, *, public_id: str, resource_type: str, format: str) -> None:
        try:
            result = cloudinary.uploader.destroy(
                public_id, resource_type=resource_type, type="upload", invalidate=True
            )
        except cloudinary.exceptions.Error as exc:
            logger.warning("cloudinary destroy of %s failed: %s", public_id, exc)
            raise MediaProviderError() from exc
        # "not found" means it is already gone: deleting is idempotent.
        if result.get("result") not in ("ok", "not found"):
            logger.warning("cloudinary destroy of %s answered %r", public_id, result)
            raise MediaProviderError()

    def optimized_url(
        self,
        *,
        asset,
        width: int | None = None,
        height: int | None = None,
        crop: str | None = None,
        quality: str = "auto",
        fetch_format: str = "auto",
    ) -> str:
        steps = []
        resize = {k: v for k, v in {"width": width, "height": height, "crop": crop}.items() if v}
        if resize:
            if "crop" not in resize:
                resize["crop"] = "limit"
            steps.append(resize)
        steps.append({"quality": quality, "fetch_format": fetch_format})
        return self._url(asset.public_id, asset.resource_type, asset.version, transformation=steps)

    def sign_direct_upload(self, *, folder: str, resource_type: str) -> dict:
        config = cloudinary.config()
        formats = IMAGE_FORMATS if resource_type == "image" else VIDEO_FORMATS
        # Only what the client may choose is signed: the folder pins ownership, allowed_formats the type.
        params = {
            "timestamp": int(time.time()),
            "folder": folder,
            "allowed_formats": ",".join(formats),
        }
        signature = cloudinary.utils.api_sign_request(
            params,
            config.api_secret,
            config.signature_algorithm,
            signature_version=config.signature_version,
        )
        upload_url = cloudinary.utils.cloudinary_api_url("upload", resource_type=resource_type)
        return {
            **params,
            "signature": signature,
            "api_key": config.api_key,
            "cloud_name": config.cloud_name,
            "resource_type": resource_type,
            "upload_url": upload_url,
            "expires_at": params["timestamp"] + DIRECT_UPLOAD_SIGNATURE_TTL_SECONDS,
        }

    def verify_response_signature(self, *, public_id: str, version: int, signature: str) -> bool:
        return cloudinary.utils.verify_api_response_signature(public_id, version, signature)

    def fetch_resource(self, *, public_id: str, resource_type: str) -> StoredMedia | None:
        """Authoritative metadata from the Admin API (rate-limited: only on confirm-upload, never per view)."""
        try:
            result = cloudinary.api.resource(public_id, resource_type=resource_type)
        except cloudinary.exceptions.NotFound:
            return None
        except cloudinary.exceptions.Error as exc:
            logger.warning("cloudinary resource lookup of %s failed: %s", public_id, exc)
            raise MediaProviderError() from exc
        folder = public_id.rpartition("/")[0]
        return self._from_result(result, folder=folder)
