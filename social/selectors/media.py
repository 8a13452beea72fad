from accounts.models import User
from dumuwaks.core.permissions import is_staff_member
from social.errors import MediaNotFound
from social.models import MediaAsset


def media_find_live(*, public_id: str) -> MediaAsset | None:
    """The live asset with this id, or None. Ids come from the URL; PostgreSQL text cannot hold NUL."""
    if "\x00" in public_id:
        return None
    return MediaAsset.objects.filter(public_id=public_id, is_deleted=False).first()


def media_get_for_actor(*, actor: User, public_id: str) -> MediaAsset:
    """Owner or staff; anyone else gets the same 404 as for a missing asset."""
    asset = media_find_live(public_id=public_id)
    if asset is None or (asset.owner_id != actor.id and not is_staff_member(actor)):
        raise MediaNotFound()
    return asset


def media_get_public(*, public_id: str) -> MediaAsset:
    """Any live asset: delivery URLs are public anyway (posts, reviews, avatars)."""
    asset = media_find_live(public_id=public_id)
    if asset is None:
        raise MediaNotFound()
    return asset
