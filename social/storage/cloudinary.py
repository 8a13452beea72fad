"""Cloudinary as a Django storage: `STORAGES["default"]["BACKEND"] = "social.storage.cloudinary.CloudinaryStorage"`.

django-storages has no Cloudinary backend and the one package that had (django-cloudinary-storage) has not been
released since 2020, so this is a small `Storage` on top of the `cloudinary` SDK: the SDK does the HTTP and the
signing, django-storages' `BaseStorage` does what its own backends do with `OPTIONS` (defaults, unknown names
refused), and the rest of the code only sees Django's storage API (`save`, `url`, `delete`, `exists`, `size`).

Names are `<folder>/<key>.<ext>`: the Cloudinary public id is the name without its extension, the resource type
follows from the extension. What only Cloudinary can do (delivery transformations, signed direct uploads, the
Admin API lookup) are extra methods, used where the configured storage is this one.

Network calls happen here, outside any database transaction (the media service stores first and writes rows
afterwards). An SDK failure is raised as `MediaProviderError` (503).
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlparse

import cloudinary
import cloudinary.api
import cloudinary.exceptions
import cloudinary.uploader
import cloudinary.utils
from django.utils.deconstruct import deconstructible
from storages.base import BaseStorage
from storages.utils import clean_name

from social.errors import MediaProviderError
from social.storage.validation import IMAGE_FORMATS, VIDEO_FORMATS

logger = logging.getLogger(__name__)

VIDEO_CHUNK_BYTES = 20_000_000
DIRECT_UPLOAD_SIGNATURE_TTL_SECONDS = 3600


def split_name(name: str) -> tuple[str, str, str]:
    """`a/b/key.mp4` -> (public id `a/b/key`, resource type `video`, format `mp4`)."""
    public_id, _, fmt = clean_name(name).rpartition(".")
    resource_type = "video" if fmt in VIDEO_FORMATS else "image"
    return public_id, resource_type, fmt


@deconstructible
class CloudinaryStorage(BaseStorage):
    """OPTIONS: `cloudinary_url` (`cloudinary://key:secret@cloud`, required) and `upload_prefix` (tests
    only: the SDK's API host, pointed at the local fake)."""

    def get_default_settings(self):
        return {"cloudinary_url": "", "upload_prefix": ""}

    def __init__(self, **settings):
        super().__init__(**settings)
        self._uploads: dict[str, dict] = {}

    def _configure(self) -> None:
        # The SDK keeps one global configuration; set it before each call so a storage built from other
        # OPTIONS (tests switching fakes) never talks to the previous account.
        parsed = urlparse(self.cloudinary_url)
        cloudinary.config(
            cloud_name=parsed.netloc.rpartition("@")[2],
            api_key=parsed.username,
            api_secret=parsed.password,
            secure=True,
            # None restores the real API host if a previous configuration set a prefix.
            upload_prefix=self.upload_prefix or None,
        )

    # --- Django's storage API ---------------------------------------------------------------------------------

    def _save(self, name, content):
        public_id, resource_type, fmt = split_name(name)
        folder, _, key = public_id.rpartition("/")
        options = {
            "folder": folder,
            "public_id": key,
            "resource_type": resource_type,
            "overwrite": False,
            "allowed_formats": list(IMAGE_FORMATS if resource_type == "image" else VIDEO_FORMATS),
        }
        self._configure()
        content.seek(0)
        try:
            if resource_type == "video":
                # Chunked upload: videos up to 100 MB would otherwise go in one request.
                result = cloudinary.uploader.upload_large(
                    content, chunk_size=VIDEO_CHUNK_BYTES, **options
                )
            else:
                result = cloudinary.uploader.upload(content, **options)
        except cloudinary.exceptions.Error as exc:
            logger.warning("cloudinary upload failed: %s", exc)
            raise MediaProviderError() from exc
        stored = f"{result['public_id']}.{result.get('format') or fmt}"
        self._uploads[stored] = result
        return stored

    def get_available_name(self, name, max_length=None):
        # Names are chosen unique by the caller and uploads never overwrite (`overwrite=False`).
        return clean_name(name)

    def upload_result(self, name: str) -> dict:
        """What Cloudinary answered to the upload of `name` (version, duration, ...); once per upload."""
        return self._uploads.pop(name, {})

    def delete(self, name):
        public_id, resource_type, _ = split_name(name)
        self.destroy(public_id=public_id, resource_type=resource_type)

    def destroy(self, *, public_id: str, resource_type: str) -> None:
        """Delete by public id, for a file whose name we did not choose (a direct upload)."""
        self._configure()
        try:
            result = cloudinary.uploader.destroy(
                public_id, resource_type=resource_type, type="upload", invalidate=True
            )
        except cloudinary.exceptions.Error as exc:
            logger.warning("cloudinary destroy of %s failed: %s", public_id, exc)
            raise MediaProviderError() from exc
        # "not found" means it is already gone: deleting is idempotent, as Storage.delete is.
        if result.get("result") not in ("ok", "not found"):
            logger.warning("cloudinary destroy of %s answered %r", public_id, result)
            raise MediaProviderError()

    def exists(self, name):
        public_id, resource_type, _ = split_name(name)
        return self.resource(public_id=public_id, resource_type=resource_type) is not None

    def size(self, name):
        public_id, resource_type, _ = split_name(name)
        found = self.resource(public_id=public_id, resource_type=resource_type)
        if found is None:
            raise FileNotFoundError(name)
        return int(found.get("bytes") or 0)

    def url(self, name):
        public_id, resource_type, fmt = split_name(name)
        return self.transformed_url(public_id, resource_type=resource_type, format=fmt)

    # --- what only Cloudinary does ----------------------------------------------------------------------------

    def transformed_url(
        self, public_id: str, *, resource_type: str, version=None, **options
    ) -> str:
        """A delivery URL with Cloudinary transformations (`transformation=[...]`, `format=`, ...)."""
        self._configure()
        url, _ = cloudinary.utils.cloudinary_url(
            public_id, resource_type=resource_type, version=version, secure=True, **options
        )
        return url

    def sign_direct_upload(self, *, folder: str, resource_type: str) -> dict:
        self._configure()
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
        self._configure()
        return cloudinary.utils.verify_api_response_signature(public_id, version, signature)

    def resource(self, *, public_id: str, resource_type: str) -> dict | None:
        """Authoritative metadata from the Admin API (rate-limited: only on confirm-upload, never per view)."""
        self._configure()
        try:
            return cloudinary.api.resource(public_id, resource_type=resource_type)
        except cloudinary.exceptions.NotFound:
            return None
        except cloudinary.exceptions.Error as exc:
            logger.warning("cloudinary resource lookup of %s failed: %s", public_id, exc)
            raise MediaProviderError() from exc
