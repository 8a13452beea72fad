import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from social.tests.cloudinary_fake import FakeCloudinary


@pytest.fixture
def local_media(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    settings.PUBLIC_API_URL = "http://testserver"
    return settings


@pytest.fixture
def fake_cloudinary(settings):
    fake = FakeCloudinary().start()
    # What MEDIA_BACKEND=cloudinary configures, with the SDK pointed at the fake.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "social.storage.cloudinary.CloudinaryStorage",
            "OPTIONS": {"cloudinary_url": fake.cloudinary_url, "upload_prefix": fake.url},
        },
    }
    yield fake
    fake.stop()


def image_bytes(fmt: str = "PNG", size=(64, 48), color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    mode = "P" if fmt == "GIF" else "RGB"
    Image.new(mode if mode == "RGB" else "RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def mp4_bytes(brand: bytes = b"isom", size: int = 2048) -> bytes:
    ftyp = (24).to_bytes(4, "big") + b"ftyp" + brand + b"\x00\x00\x02\x00" + b"isomiso2"
    mdat_payload = b"\x00" * max(0, size - len(ftyp) - 8)
    return ftyp + (len(mdat_payload) + 8).to_bytes(4, "big") + b"mdat" + mdat_payload


def avi_bytes(size: int = 2048) -> bytes:
    body = b"AVI LIST" + b"\x00" * (size - 16)
    return b"RIFF" + (len(body)).to_bytes(4, "little") + body


def upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)
