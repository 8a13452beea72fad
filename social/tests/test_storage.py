"""Media storage is Django's STORAGES["default"]: the Cloudinary storage honours the storage API against the
local fake, and which storage serves uploads is configuration only."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, storages

from social.storage.cloudinary import CloudinaryStorage
from social.storage.files import media_storage, storage_backend_name
from social.tests.cloudinary_fake import CLOUD_NAME
from social.tests.conftest import image_bytes, mp4_bytes, upload


def test_cloudinary_storage_speaks_the_storage_api(fake_cloudinary):
    storage = storages["default"]
    assert isinstance(storage, CloudinaryStorage)

    name = storage.save("dumuwaks/users/1/uploads/abc.png", ContentFile(image_bytes()))

    assert name == "dumuwaks/users/1/uploads/abc.png"
    assert ("image", "dumuwaks/users/1/uploads/abc") in fake_cloudinary.resources
    assert storage.exists(name)
    assert storage.size(name) == len(image_bytes())
    assert storage.url(name) == (
        f"https://res.cloudinary.com/{CLOUD_NAME}/image/upload/v1/dumuwaks/users/1/uploads/abc.png"
    )
    assert storage.upload_result(name)["version"]
    assert storage.upload_result(name) == {}  # handed over once

    storage.delete(name)
    assert not storage.exists(name)
    storage.delete(name)  # already gone: deleting is idempotent, like FileSystemStorage


def test_cloudinary_storage_uploads_videos_as_videos(fake_cloudinary):
    name = storages["default"].save(
        "dumuwaks/users/1/uploads/clip.mp4", upload("c.mp4", mp4_bytes())
    )

    assert ("video", "dumuwaks/users/1/uploads/clip") in fake_cloudinary.resources
    assert fake_cloudinary.calls("upload")[0]["resource_type"] == "video"
    assert "/video/upload/" in storages["default"].url(name)


def test_cloudinary_storage_refuses_unknown_options():
    with pytest.raises(ImproperlyConfigured):
        CloudinaryStorage(cloudinary_url="cloudinary://k:s@c", bucket="nope")


def test_the_configured_storage_decides_where_uploads_go(settings, local_media):
    assert isinstance(media_storage(), FileSystemStorage)
    assert storage_backend_name(media_storage()) == "local"

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "social.storage.cloudinary.CloudinaryStorage",
            "OPTIONS": {"cloudinary_url": "cloudinary://k:s@c"},
        },
    }
    assert storage_backend_name(media_storage()) == "cloudinary"
