from django.conf import settings
from django.db import models

from dumuwaks.core.models import TimeStampedModel


class ResourceType(models.TextChoices):
    IMAGE = "image", "Image"
    VIDEO = "video", "Video"


class MediaBackendName(models.TextChoices):
    LOCAL = "local", "Local storage"
    CLOUDINARY = "cloudinary", "Cloudinary"


class MediaAsset(TimeStampedModel):
    """One uploaded file (image or video) as the storage backend reported it.

    Rows are soft-deleted (`is_deleted`) after the backend confirmed the file is gone, so posts and reviews that
    referenced the asset can stop showing it without losing the audit trail.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="media_assets"
    )
    public_id = models.CharField(max_length=255, unique=True)
    url = models.URLField(max_length=500)
    secure_url = models.URLField(max_length=500, blank=True)
    thumbnail_url = models.URLField(max_length=500, blank=True)
    optimized_url = models.URLField(
        max_length=500, blank=True, help_text="Delivery URL with automatic quality/format"
    )
    resource_type = models.CharField(max_length=8, choices=ResourceType.choices)
    format = models.CharField(max_length=16)
    bytes = models.PositiveBigIntegerField(default=0)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds (videos)")
    version = models.BigIntegerField(null=True, blank=True, help_text="Cloudinary version")
    folder = models.CharField(max_length=255, blank=True)
    original_filename = models.CharField(max_length=255, blank=True)
    backend = models.CharField(max_length=16, choices=MediaBackendName.choices)
    is_deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(resource_type__in=ResourceType.values),
                name="media_resource_type_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(backend__in=MediaBackendName.values),
                name="media_backend_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(is_deleted=False) | models.Q(deleted_at__isnull=False),
                name="media_deleted_has_timestamp",
            ),
        ]
        indexes = [models.Index(fields=["owner", "is_deleted"])]

    def __str__(self):
        return self.public_id

    @property
    def delivery_url(self) -> str:
        return self.secure_url or self.url
