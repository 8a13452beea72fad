import json
import os

import cloudinary.utils
import pytest
import urllib3
from PIL import Image
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from social.models import MediaAsset
from social.storage import cloudinary as cloudinary_storage
from social.storage.validation import MAX_IMAGE_BYTES, MB
from social.tests.cloudinary_fake import API_KEY, API_SECRET, CLOUD_NAME
from social.tests.conftest import avi_bytes, image_bytes, mp4_bytes, upload

pytestmark = pytest.mark.django_db

URL = "/api/v1/media/"


def post_file(client, path, field, files):
    data = {field: files}
    return client.post(URL + path, data, format="multipart")


def stored_path(settings, asset_url: str) -> str:
    relative = asset_url.split(settings.MEDIA_URL, 1)[1]
    return os.path.join(settings.MEDIA_ROOT, relative)


# --- local backend: each type, by content --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pil_format", "expected"),
    [("JPEG", "jpg"), ("PNG", "png"), ("GIF", "gif"), ("WEBP", "webp")],
)
def test_upload_each_image_type_local(customer_client, customer, local_media, pil_format, expected):
    response = post_file(
        customer_client,
        "upload/image",
        "image",
        upload(f"photo.{expected}", image_bytes(pil_format)),
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["format"] == expected
    assert body["resourceType"] == "image"
    assert (body["width"], body["height"]) == (64, 48)
    assert body["publicId"].startswith(f"dumuwaks/users/{customer.id}/uploads/")
    asset = MediaAsset.objects.get(public_id=body["publicId"])
    assert asset.owner == customer and asset.backend == "local"
    assert os.path.exists(stored_path(local_media, body["url"]))
    assert os.path.exists(stored_path(local_media, body["thumbnailUrl"]))


def test_large_image_is_resized_and_thumbnailed_locally(customer_client, local_media):
    response = post_file(
        customer_client,
        "upload/image",
        "image",
        upload("wide.jpg", image_bytes("JPEG", (2500, 1000))),
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["width"], body["height"]) == (1920, 768)
    with Image.open(stored_path(local_media, body["thumbnailUrl"])) as thumb:
        assert thumb.size == (400, 160)


def test_jpg_name_with_png_content_is_judged_by_content(customer_client, local_media):
    response = post_file(
        customer_client, "upload/image", "image", upload("x.jpg", image_bytes("PNG"))
    )

    assert response.status_code == 201
    assert response.json()["format"] == "png"


@pytest.mark.parametrize(
    "content",
    [b"hello, I am plain text pretending to be a photo", b"\xff\xd8\xff" + b"garbage" * 50],
    ids=["text", "truncated-jpeg"],
)
def test_disguised_or_corrupt_image_is_rejected(customer_client, local_media, content):
    response = post_file(
        customer_client, "upload/image", "image", upload("cat.jpg", content, "image/jpeg")
    )

    assert response.status_code == 400
    assert response.json()["code"] == "unsupported_file_type"
    assert not MediaAsset.objects.exists()


def test_video_on_image_endpoint_is_rejected(customer_client, local_media):
    response = post_file(customer_client, "upload/image", "image", upload("clip.png", mp4_bytes()))

    assert response.status_code == 400
    assert response.json()["code"] == "unsupported_file_type"


def test_oversized_image_is_413(customer_client, local_media):
    data = image_bytes("PNG")
    data += b"\x00" * (MAX_IMAGE_BYTES + 1 - len(data))

    response = post_file(customer_client, "upload/image", "image", upload("big.png", data))

    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert not MediaAsset.objects.exists()


def test_image_exactly_at_limit_is_accepted(customer_client, local_media):
    data = image_bytes("PNG")
    data += b"\x00" * (MAX_IMAGE_BYTES - len(data))

    response = post_file(customer_client, "upload/image", "image", upload("edge.png", data))

    assert response.status_code == 201


def test_request_larger_than_endpoint_limit_is_refused_before_parsing(customer_client, local_media):
    response = customer_client.post(
        URL + "upload/image",
        {"image": upload("a.png", image_bytes())},
        format="multipart",
        CONTENT_LENGTH=str(50 * MB),
    )

    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert not MediaAsset.objects.exists()


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("clip.mp4", mp4_bytes(), "mp4"),
        ("clip.mov", mp4_bytes(brand=b"qt  "), "mov"),
        ("clip.avi", avi_bytes(), "avi"),
        ("clip.avi", mp4_bytes(brand=b"mp42"), "mp4"),
    ],
)
def test_upload_each_video_type_local(customer_client, local_media, name, data, expected):
    response = post_file(customer_client, "upload/video", "video", upload(name, data))

    assert response.status_code == 201, response.json()
    assert response.json()["format"] == expected
    assert response.json()["resourceType"] == "video"
    assert response.json()["bytes"] == len(data)


def test_image_on_video_endpoint_and_text_named_mp4_are_rejected(customer_client, local_media):
    for data in (image_bytes("JPEG"), b"not a video at all, just words" * 10):
        response = post_file(customer_client, "upload/video", "video", upload("clip.mp4", data))
        assert response.status_code == 400
        assert response.json()["code"] == "unsupported_file_type"
    assert not MediaAsset.objects.exists()


@pytest.mark.slow
def test_oversized_video_is_413(customer_client, local_media):
    data = mp4_bytes(size=100 * MB + 1)

    response = post_file(customer_client, "upload/video", "video", upload("long.mp4", data))

    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert not MediaAsset.objects.exists()


def test_upload_multiple_images(customer_client, customer, local_media):
    files = [upload(f"p{i}.png", image_bytes("PNG", color=(i, i, i))) for i in range(3)]

    response = post_file(customer_client, "upload/images", "images", files)

    assert response.status_code == 201
    assert len(response.json()["assets"]) == 3
    assert MediaAsset.objects.filter(owner=customer).count() == 3


def test_more_than_ten_images_is_rejected(customer_client, local_media):
    files = [upload(f"p{i}.png", image_bytes()) for i in range(11)]

    response = post_file(customer_client, "upload/images", "images", files)

    assert response.status_code == 400
    assert response.json()["code"] == "too_many_files"
    assert not MediaAsset.objects.exists()


def test_one_bad_file_in_a_batch_stores_nothing(customer_client, local_media):
    files = [upload("ok.png", image_bytes()), upload("bad.jpg", b"text" * 20)]

    response = post_file(customer_client, "upload/images", "images", files)

    assert response.status_code == 400
    assert response.json()["code"] == "unsupported_file_type"
    assert "files.1" in response.json()["fields"]
    assert not MediaAsset.objects.exists()


def test_mixed_upload(customer_client, local_media):
    files = [upload("a.webp", image_bytes("WEBP")), upload("b.mov", mp4_bytes(brand=b"qt  "))]

    response = post_file(customer_client, "upload/media", "media", files)

    assert response.status_code == 201
    assert [a["resourceType"] for a in response.json()["assets"]] == ["image", "video"]


def test_profile_picture_sets_avatar(customer_client, customer, local_media):
    response = post_file(
        customer_client,
        "upload/profile-picture",
        "profilePicture",
        upload("me.jpg", image_bytes("JPEG")),
    )

    assert response.status_code == 201
    customer.refresh_from_db()
    assert customer.avatar_url == response.json()["avatarUrl"]
    assert response.json()["asset"]["publicId"].startswith(f"dumuwaks/users/{customer.id}/avatars/")


def test_profile_picture_must_be_an_image(customer_client, customer, local_media):
    response = post_file(
        customer_client, "upload/profile-picture", "profilePicture", upload("me.jpg", mp4_bytes())
    )

    assert response.status_code == 400
    customer.refresh_from_db()
    assert customer.avatar_url == ""


def test_missing_file_is_validation_error(customer_client, local_media):
    response = customer_client.post(URL + "upload/image", {}, format="multipart")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_anonymous_cannot_upload(anon_client, local_media):
    response = post_file(anon_client, "upload/image", "image", upload("a.png", image_bytes()))

    assert response.status_code == 401


# --- ownership ---------------------------------------------------------------------------------------------------


def _upload_as(client):
    response = post_file(client, "upload/image", "image", upload("a.png", image_bytes()))
    assert response.status_code == 201
    return response.json()


def test_owner_deletes_asset_and_file(customer_client, local_media):
    asset = _upload_as(customer_client)
    path = stored_path(local_media, asset["url"])

    response = customer_client.delete(URL + asset["publicId"])

    assert response.status_code == 204
    row = MediaAsset.objects.get(public_id=asset["publicId"])
    assert row.is_deleted and row.deleted_at is not None
    assert not os.path.exists(path)
    assert customer_client.delete(URL + asset["publicId"]).status_code == 404


def test_other_user_cannot_delete_or_see_details(
    customer_client, other_customer_client, local_media
):
    asset = _upload_as(customer_client)

    assert other_customer_client.delete(URL + asset["publicId"]).status_code == 404
    assert other_customer_client.get(URL + asset["publicId"] + "/details").status_code == 404
    assert not MediaAsset.objects.get(public_id=asset["publicId"]).is_deleted
    assert os.path.exists(stored_path(local_media, asset["url"]))


def test_details_for_owner_and_staff(customer_client, support_client, local_media):
    asset = _upload_as(customer_client)

    for client in (customer_client, support_client):
        response = client.get(URL + asset["publicId"] + "/details")
        assert response.status_code == 200
        assert response.json()["id"] == asset["id"]


def test_staff_can_delete_any_asset(customer_client, admin_client_api, local_media):
    asset = _upload_as(customer_client)

    assert admin_client_api.delete(URL + asset["publicId"]).status_code == 204


def test_delete_multiple_only_touches_own(customer_client, other_customer_client, local_media):
    mine = _upload_as(customer_client)
    theirs = _upload_as(other_customer_client)

    response = customer_client.post(
        URL + "delete-multiple",
        {"publicIds": [mine["publicId"], theirs["publicId"], "dumuwaks/users/0/uploads/nope"]},
    )

    assert response.status_code == 200
    assert response.json() == {
        "deleted": [mine["publicId"]],
        "notFound": [theirs["publicId"], "dumuwaks/users/0/uploads/nope"],
    }
    assert not MediaAsset.objects.get(public_id=theirs["publicId"]).is_deleted


def test_local_backend_has_no_direct_upload(customer_client, local_media):
    response = customer_client.post(URL + "generate-signature", {"resourceType": "image"})

    assert response.status_code == 409
    assert response.json()["code"] == "direct_upload_unavailable"


def test_optimize_url_local_uses_thumbnail_for_small_widths(customer_client, local_media):
    asset = _upload_as(customer_client)

    small = customer_client.post(
        URL + "optimize-url", {"publicId": asset["publicId"], "width": 200}
    )
    large = customer_client.post(
        URL + "optimize-url", {"publicId": asset["publicId"], "width": 1200}
    )

    assert small.json()["url"] == asset["thumbnailUrl"]
    assert large.json()["url"] == asset["url"]


# --- cloudinary backend against the local fake ---------------------------------------------------------------


def test_cloudinary_image_upload(customer_client, customer, fake_cloudinary):
    response = post_file(
        customer_client, "upload/image", "image", upload("a.jpg", image_bytes("JPEG"))
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    [call] = fake_cloudinary.calls("upload")
    assert call["resource_type"] == "image"
    assert call["fields"]["folder"] == [f"dumuwaks/users/{customer.id}/uploads"]
    assert body["publicId"].startswith(f"dumuwaks/users/{customer.id}/uploads/")
    assert body["secureUrl"].startswith(f"https://res.cloudinary.com/{CLOUD_NAME}/image/upload/")
    assert "/image/upload/f_auto,q_auto/" in body["optimizedUrl"]
    assert "c_limit,h_400,w_400/f_auto,q_auto" in body["thumbnailUrl"]
    assert body["backend"] == "cloudinary"
    assert body["version"] == fake_cloudinary.resources[("image", body["publicId"])]["version"]


def test_cloudinary_video_upload_and_delete(customer_client, fake_cloudinary):
    response = post_file(customer_client, "upload/video", "video", upload("c.mp4", mp4_bytes()))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert fake_cloudinary.calls("upload")[0]["resource_type"] == "video"
    assert body["duration"] == 3.5
    assert "/video/upload/so_auto/" in body["thumbnailUrl"] and body["thumbnailUrl"].endswith(
        ".jpg"
    )

    assert customer_client.delete(URL + body["publicId"]).status_code == 204
    [destroy] = fake_cloudinary.calls("destroy")
    assert destroy["resource_type"] == "video"
    assert destroy["fields"]["public_id"] == [body["publicId"]]
    assert ("video", body["publicId"]) not in fake_cloudinary.resources


def test_cloudinary_delete_of_already_missing_file_succeeds(customer_client, fake_cloudinary):
    body = _upload_as(customer_client)
    fake_cloudinary.resources.clear()  # gone at Cloudinary already ("not found")

    assert customer_client.delete(URL + body["publicId"]).status_code == 204
    assert MediaAsset.objects.get(public_id=body["publicId"]).is_deleted


def test_cloudinary_failure_is_503_and_stores_nothing(customer_client, fake_cloudinary):
    fake_cloudinary.fail_uploads = True

    response = post_file(customer_client, "upload/image", "image", upload("a.png", image_bytes()))

    assert response.status_code == 503
    assert response.json()["code"] == "media_provider_unavailable"
    assert not MediaAsset.objects.exists()


def test_cloudinary_optimize_url(customer_client, fake_cloudinary):
    body = _upload_as(customer_client)

    response = customer_client.post(
        URL + "optimize-url",
        {"publicId": body["publicId"], "width": 400, "height": 300, "crop": "fill"},
    )

    assert response.status_code == 200
    assert "/image/upload/c_fill,h_300,w_400/f_auto,q_auto/" in response.json()["url"]


# --- signed direct uploads ---------------------------------------------------------------------------------------


def test_signature_matches_documented_test_vector():
    params = {"timestamp": 1700000000, "folder": "jobs/abc", "eager": "q_auto,f_auto"}

    assert (
        cloudinary.utils.api_sign_request(params, "abcd")
        == "f1077a6c1e69a17cb4a05f9646f74869712fae6f"
    )


def _direct_upload(fake, signed: dict, data: bytes) -> tuple[int, dict]:
    fields = {
        "api_key": signed["apiKey"],
        "timestamp": str(signed["timestamp"]),
        "folder": signed["folder"],
        "allowed_formats": signed["allowedFormats"],
        "signature": signed["signature"],
        "file": ("photo.jpg", data),
    }
    response = urllib3.PoolManager().request("POST", signed["uploadUrl"], fields=fields)
    return response.status, json.loads(response.data)


def test_generate_signature_signs_only_client_params(customer_client, customer, fake_cloudinary):
    response = customer_client.post(URL + "generate-signature", {"resourceType": "image"})

    assert response.status_code == 200
    signed = response.json()
    assert signed["folder"] == f"dumuwaks/users/{customer.id}/direct"
    assert signed["apiKey"] == API_KEY and signed["cloudName"] == CLOUD_NAME
    assert signed["uploadUrl"] == f"{fake_cloudinary.url}/v1_1/{CLOUD_NAME}/image/upload"
    expected = cloudinary.utils.api_sign_request(
        {
            "timestamp": signed["timestamp"],
            "folder": signed["folder"],
            "allowed_formats": signed["allowedFormats"],
        },
        API_SECRET,
    )
    assert signed["signature"] == expected
    assert "apiSecret" not in signed and API_SECRET not in str(signed)


def test_direct_upload_then_confirm(customer_client, customer, fake_cloudinary):
    signed = customer_client.post(URL + "generate-signature", {"resourceType": "image"}).json()
    status, uploaded = _direct_upload(fake_cloudinary, signed, image_bytes("JPEG"))
    assert status == 200, uploaded

    payload = {
        "publicId": uploaded["public_id"],
        "version": uploaded["version"],
        "signature": uploaded["signature"],
        "resourceType": "image",
    }
    response = customer_client.post(URL + "confirm-upload", payload)

    assert response.status_code == 201, response.json()
    asset = MediaAsset.objects.get(public_id=uploaded["public_id"])
    assert asset.owner == customer and asset.bytes == uploaded["bytes"] and asset.format == "jpg"
    # a replay registers nothing new
    again = customer_client.post(URL + "confirm-upload", payload)
    assert again.status_code == 200 and again.json()["id"] == asset.id
    assert MediaAsset.objects.count() == 1


def test_tampered_parameters_are_refused_by_provider(customer_client, fake_cloudinary):
    signed = customer_client.post(URL + "generate-signature", {"resourceType": "image"}).json()
    signed["folder"] = "dumuwaks/users/999/direct"  # not what we signed

    status, body = _direct_upload(fake_cloudinary, signed, image_bytes("JPEG"))

    assert status == 401 and "Invalid Signature" in body["error"]["message"]


def test_confirm_with_bad_signature_is_rejected(customer_client, fake_cloudinary):
    signed = customer_client.post(URL + "generate-signature", {"resourceType": "image"}).json()
    _, uploaded = _direct_upload(fake_cloudinary, signed, image_bytes("JPEG"))

    response = customer_client.post(
        URL + "confirm-upload",
        {
            "publicId": uploaded["public_id"],
            "version": uploaded["version"] + 1,
            "signature": uploaded["signature"],
        },
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_upload_signature"
    assert not MediaAsset.objects.exists()


def test_cannot_confirm_someone_elses_upload(
    customer_client, other_customer_client, fake_cloudinary
):
    signed = customer_client.post(URL + "generate-signature", {"resourceType": "image"}).json()
    _, uploaded = _direct_upload(fake_cloudinary, signed, image_bytes("JPEG"))

    response = other_customer_client.post(
        URL + "confirm-upload",
        {
            "publicId": uploaded["public_id"],
            "version": uploaded["version"],
            "signature": uploaded["signature"],
        },
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_upload_signature"
    assert not MediaAsset.objects.exists()


def test_confirm_refuses_oversized_direct_upload_and_destroys_it(
    customer_client, customer, fake_cloudinary
):
    public_id = f"dumuwaks/users/{customer.id}/direct/huge"
    fake_cloudinary.store(public_id=public_id, resource_type="image", fmt="png", data=image_bytes())
    fake_cloudinary.resources[("image", public_id)]["bytes"] = MAX_IMAGE_BYTES + 1
    result = fake_cloudinary.resources[("image", public_id)]

    response = customer_client.post(
        URL + "confirm-upload",
        {"publicId": public_id, "version": result["version"], "signature": result["signature"]},
    )

    assert response.status_code == 413
    assert ("image", public_id) not in fake_cloudinary.resources
    assert not MediaAsset.objects.exists()


def test_large_video_goes_up_in_chunks(customer_client, fake_cloudinary, monkeypatch):
    monkeypatch.setattr(cloudinary_storage, "VIDEO_CHUNK_BYTES", 1000)
    data = mp4_bytes(size=2500)

    response = post_file(customer_client, "upload/video", "video", upload("c.mp4", data))

    assert response.status_code == 201, response.json()
    assert len(fake_cloudinary.calls("upload")) == 3
    assert response.json()["bytes"] == 2500


def test_uploads_are_throttled_per_user(customer_client, local_media, settings):
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "media_upload": "2/hour"}
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rates
    try:
        statuses = [
            post_file(
                customer_client, "upload/image", "image", upload("a.png", image_bytes())
            ).status_code
            for _ in range(3)
        ]
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original

    assert statuses == [201, 201, 429]
