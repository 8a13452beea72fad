import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from social.errors import FileTooLarge, UnsupportedFileType
from social.services.posts import extract_hashtags, extract_mention_ids
from social.storage.validation import MAX_VIDEO_BYTES, inspect_upload, sniff_format
from social.tests.conftest import avi_bytes, image_bytes, mp4_bytes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#Plumbing in #nairobi, #PLUMBING again", ["plumbing", "nairobi"]),
        ("email me at a#b or C# code", []),
        ("#1 fan of #Kazi_Safi", ["kazi_safi"]),
        ("##double #ümlaut", ["ümlaut"]),
        ("", []),
    ],
)
def test_extract_hashtags(text, expected):
    assert extract_hashtags(text) == expected


def test_extract_mentions_by_id_syntax():
    assert extract_mention_ids("hi @[12] and @[7] and again @[12], not @john or @[x]") == [12, 7]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (image_bytes("JPEG"), ("image", "jpg")),
        (image_bytes("PNG"), ("image", "png")),
        (image_bytes("GIF"), ("image", "gif")),
        (image_bytes("WEBP"), ("image", "webp")),
        (mp4_bytes(), ("video", "mp4")),
        (mp4_bytes(brand=b"qt  "), ("video", "mov")),
        (avi_bytes(), ("video", "avi")),
        (b"%PDF-1.7 not media", None),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (mp4_bytes(brand=b"heic"), None),
    ],
)
def test_sniff_format(data, expected):
    assert sniff_format(data[:32]) == expected


def test_video_size_limit_is_checked_on_the_real_size():
    upload = SimpleUploadedFile("v.mp4", mp4_bytes())
    upload.size = MAX_VIDEO_BYTES + 1

    with pytest.raises(FileTooLarge):
        inspect_upload(upload, allowed=("video",))


def test_png_declaring_jpeg_magic_is_rejected_by_pillow():
    data = b"\xff\xd8\xff" + image_bytes("PNG")
    with pytest.raises(UnsupportedFileType):
        inspect_upload(SimpleUploadedFile("x.jpg", data), allowed=("image",))


def test_inspect_leaves_file_at_start():
    upload = SimpleUploadedFile("x.png", image_bytes("PNG"))
    inspect_upload(upload, allowed=("image",))
    assert upload.tell() == 0
    assert isinstance(upload.file, io.BytesIO)
