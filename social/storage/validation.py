"""Decide what an uploaded file really is from its bytes, never from its name or Content-Type.

Images: magic bytes, then Pillow must open and verify the file as the same format.
Videos: MP4/MOV by their ISO-BMFF `ftyp` box (brand `qt  ` is QuickTime), AVI by its `RIFF....AVI ` header.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from social.errors import FileTooLarge, UnsupportedFileType

MB = 1024 * 1024
MAX_IMAGE_BYTES = 5 * MB
MAX_VIDEO_BYTES = 100 * MB

IMAGE_FORMATS = ("jpg", "png", "gif", "webp")
VIDEO_FORMATS = ("mp4", "mov", "avi")

_PILLOW_FORMATS = {"jpg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}
_MP4_BRANDS = {
    b"isom",
    b"iso2",
    b"iso4",
    b"iso5",
    b"iso6",
    b"mp41",
    b"mp42",
    b"avc1",
    b"M4V ",
    b"M4VP",
    b"dash",
    b"MSNV",
    b"3gp4",
    b"3gp5",
    b"3gp6",
    b"3g2a",
    b"f4v ",
    b"mmp4",
}


@dataclass(frozen=True)
class SniffedFile:
    resource_type: str  # "image" | "video"
    format: str  # one of IMAGE_FORMATS / VIDEO_FORMATS
    size: int
    width: int | None = None
    height: int | None = None

    @property
    def content_type(self) -> str:
        return {
            "jpg": "image/jpeg",
            "png": "image/png",
            "gif": "image/gif",
            "webp": "image/webp",
            "mp4": "video/mp4",
            "mov": "video/quicktime",
            "avi": "video/x-msvideo",
        }[self.format]


def sniff_format(head: bytes) -> tuple[str, str] | None:
    """(resource_type, format) from the first bytes of a file, or None when it is nothing we accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video", "avi"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video", "mov"
        if brand in _MP4_BRANDS:
            return "video", "mp4"
    return None


def inspect_upload(uploaded, *, allowed: tuple[str, ...] = ("image", "video")) -> SniffedFile:
    """Validate one uploaded file by content. Raises UnsupportedFileType (400) or FileTooLarge (413).

    The size check runs before Pillow decodes anything, so an oversized file costs no image decoding.
    Leaves the file positioned at 0.
    """
    uploaded.seek(0)
    head = uploaded.read(32)
    uploaded.seek(0)
    sniffed = sniff_format(head)
    if sniffed is None or sniffed[0] not in allowed:
        raise UnsupportedFileType(fields={"file": [_describe(uploaded)]})
    resource_type, fmt = sniffed
    size = uploaded.size
    limit = MAX_IMAGE_BYTES if resource_type == "image" else MAX_VIDEO_BYTES
    if size > limit:
        raise FileTooLarge(
            f"{_name(uploaded)} is {size} bytes; {resource_type}s may be at most {limit // MB} MB.",
            extra={"maxBytes": limit},
        )
    if resource_type == "video":
        return SniffedFile(resource_type="video", format=fmt, size=size)
    width, height = _verify_image(uploaded, fmt)
    return SniffedFile(resource_type="image", format=fmt, size=size, width=width, height=height)


def _verify_image(uploaded, fmt: str) -> tuple[int, int]:
    try:
        with Image.open(uploaded) as image:
            if image.format != _PILLOW_FORMATS[fmt]:
                raise UnsupportedFileType(fields={"file": [_describe(uploaded)]})
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        # Truncated/corrupt files and decompression bombs are rejected as unsupported content.
        raise UnsupportedFileType(
            f"{_name(uploaded)} is not a valid image.", fields={"file": [_describe(uploaded)]}
        ) from None
    finally:
        uploaded.seek(0)
    return width, height


def _name(uploaded) -> str:
    return getattr(uploaded, "name", None) or "file"


def _describe(uploaded) -> str:
    return f"{_name(uploaded)}: content is not an accepted image or video."
