from rest_framework import serializers

from dumuwaks.core.serializers import ModelSerializer
from social.models import MediaAsset, ResourceType


class MediaAssetOutputSerializer(ModelSerializer):
    class Meta:
        model = MediaAsset
        fields = [
            "id",
            "public_id",
            "url",
            "secure_url",
            "thumbnail_url",
            "optimized_url",
            "resource_type",
            "format",
            "bytes",
            "width",
            "height",
            "duration",
            "version",
            "folder",
            "original_filename",
            "backend",
            "created_at",
        ]
        read_only_fields = fields


class MediaAssetListOutputSerializer(serializers.Serializer):
    assets = MediaAssetOutputSerializer(many=True)


class MediaImageUploadInputSerializer(serializers.Serializer):
    image = serializers.FileField(
        help_text="JPEG, PNG, GIF or WebP, at most 5 MB (checked by content)"
    )


class MediaImagesUploadInputSerializer(serializers.Serializer):
    images = serializers.ListField(
        child=serializers.FileField(), min_length=1, help_text="1-10 images, at most 5 MB each"
    )


class MediaVideoUploadInputSerializer(serializers.Serializer):
    video = serializers.FileField(help_text="MP4, MOV or AVI, at most 100 MB (checked by content)")


class MediaMixedUploadInputSerializer(serializers.Serializer):
    media = serializers.ListField(
        child=serializers.FileField(),
        min_length=1,
        help_text="1-10 images and/or videos; per-file limits as for the single uploads",
    )


class MediaProfilePictureInputSerializer(serializers.Serializer):
    profile_picture = serializers.FileField(help_text="An image, at most 5 MB")


class MediaProfilePictureOutputSerializer(serializers.Serializer):
    avatar_url = serializers.URLField()
    asset = MediaAssetOutputSerializer()


class MediaDeleteManyInputSerializer(serializers.Serializer):
    public_ids = serializers.ListField(
        child=serializers.CharField(max_length=255), min_length=1, max_length=50
    )


class MediaDeleteManyOutputSerializer(serializers.Serializer):
    deleted = serializers.ListField(child=serializers.CharField())
    not_found = serializers.ListField(
        child=serializers.CharField(), help_text="Missing, already deleted or not yours"
    )


class MediaSignatureInputSerializer(serializers.Serializer):
    resource_type = serializers.ChoiceField(choices=ResourceType.choices, default="image")


class MediaSignatureOutputSerializer(serializers.Serializer):
    signature = serializers.CharField()
    timestamp = serializers.IntegerField()
    folder = serializers.CharField()
    allowed_formats = serializers.CharField()
    api_key = serializers.CharField()
    cloud_name = serializers.CharField()
    resource_type = serializers.CharField()
    upload_url = serializers.CharField()
    expires_at = serializers.IntegerField(help_text="Unix time; Cloudinary accepts it for 1 hour")


class MediaConfirmUploadInputSerializer(serializers.Serializer):
    public_id = serializers.CharField(max_length=255)
    version = serializers.IntegerField(min_value=1)
    signature = serializers.CharField(max_length=128)
    resource_type = serializers.ChoiceField(choices=ResourceType.choices, default="image")


class MediaOptimizeUrlInputSerializer(serializers.Serializer):
    public_id = serializers.CharField(max_length=255)
    width = serializers.IntegerField(min_value=1, max_value=4000, required=False)
    height = serializers.IntegerField(min_value=1, max_value=4000, required=False)
    crop = serializers.ChoiceField(
        choices=["fill", "fit", "limit", "scale", "thumb", "pad"], required=False
    )
    quality = serializers.ChoiceField(
        choices=["auto", "auto:best", "auto:good", "auto:eco", "auto:low"], default="auto"
    )
    fetch_format = serializers.ChoiceField(
        choices=["auto", "jpg", "png", "webp", "avif", "mp4", "webm"], default="auto"
    )


class MediaOptimizeUrlOutputSerializer(serializers.Serializer):
    url = serializers.CharField()


class MediaRefInputSerializer(serializers.Serializer):
    """An attachment: one of your own uploads, by the `publicId` the media upload endpoints returned.
    Anything else sent with it (`url`, `type`, `size`) is ignored; the upload's own values are stored."""

    # Used by chat messages and bookings; the services check ownership with media_resolve_owned.

    public_id = serializers.CharField(
        max_length=255, help_text="publicId of one of your uploads (POST /api/v1/media/upload/...)"
    )

    def validate(self, attrs):
        # Runs on PATCH too, where DRF skips `required` on nested fields.
        if not attrs.get("public_id"):
            raise serializers.ValidationError({"public_id": ["This field is required."]})
        return attrs
