"""A technician's portfolio: the owner creates, edits, reorders and deletes items; staff hide and unhide.

Every write locks the technician's profile row first, so positions and the item cap stay consistent when two
requests of the same technician race. Media are the technician's own live uploads
(`social.services.media.media_resolve_owned`, the one rule for attaching uploads to anything); the optional
booking must be one of their own completed jobs (`social.services.posts.PORTFOLIO_BOOKING_STATUSES`, the
rule portfolio posts use), and the database lets one job back one item only.
"""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.errors import NotATechnician, PortfolioFull, PortfolioItemNotFound
from accounts.models import (
    MAX_PORTFOLIO_ITEMS,
    MAX_PORTFOLIO_MEDIA,
    PortfolioItem,
    PortfolioItemMedia,
    ServiceCategory,
    TechnicianProfile,
    User,
)
from bookings.models import Booking
from dumuwaks.core.errors import ValidationFailed
from social.services.media import media_resolve_owned
from social.services.posts import PORTFOLIO_BOOKING_STATUSES

_UNSET = object()
EARLIEST_COMPLETION = date(1970, 1, 1)


def _lock_profile(technician: User) -> TechnicianProfile:
    profile = (
        TechnicianProfile.objects.select_for_update().filter(user_id=technician.pk).first()
        if technician.is_technician
        else None
    )
    if profile is None:
        raise NotATechnician()
    return profile


def _lock_own_item(profile: TechnicianProfile, item_id: int) -> PortfolioItem:
    item = PortfolioItem.objects.select_for_update().filter(pk=item_id, profile=profile).first()
    if item is None:
        raise PortfolioItemNotFound()
    return item


def _category(category_id):
    if category_id is None:
        return None
    category = ServiceCategory.objects.filter(pk=category_id, is_active=True).first()
    if category is None:
        raise ValidationFailed(fields={"category_id": ["Unknown service category."]})
    return category


def _booking(technician: User, booking_id):
    if booking_id is None:
        return None
    booking = Booking.objects.filter(
        pk=booking_id, technician_id=technician.pk, status__in=PORTFOLIO_BOOKING_STATUSES
    ).first()
    if booking is None:
        raise ValidationFailed(
            fields={"booking_id": ["Not one of your completed bookings."]},
        )
    return booking


def _check_completed_on(completed_on):
    if completed_on is not None and not (
        EARLIEST_COMPLETION <= completed_on <= timezone.localdate()
    ):
        raise ValidationFailed(
            fields={"completed_on": ["Must be a past date (not in the future)."]}
        )


def _set_media(item: PortfolioItem, assets) -> None:
    PortfolioItemMedia.objects.filter(item=item).delete()
    PortfolioItemMedia.objects.bulk_create(
        [PortfolioItemMedia(item=item, asset=asset, position=i) for i, asset in enumerate(assets)]
    )


def _save_claiming_booking(item: PortfolioItem) -> None:
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError as exc:
        if "portfolio_item_booking_unique" in str(exc):
            raise ValidationFailed(
                fields={"booking_id": ["Another portfolio item already shows this job."]}
            ) from exc
        raise


def portfolio_item_create(
    *,
    technician: User,
    title: str,
    description: str = "",
    category_id: int | None = None,
    media_ids=(),
    completed_on: date | None = None,
    booking_id: int | None = None,
) -> PortfolioItem:
    """A new item at the end of the technician's portfolio."""
    _check_completed_on(completed_on)
    category = _category(category_id)
    booking = _booking(technician, booking_id)
    assets = media_resolve_owned(owner=technician, media_ids=media_ids, limit=MAX_PORTFOLIO_MEDIA)
    with transaction.atomic():
        profile = _lock_profile(technician)
        existing = PortfolioItem.objects.filter(profile=profile)
        if existing.count() >= MAX_PORTFOLIO_ITEMS:
            raise PortfolioFull()
        last = existing.aggregate(last=Max("position"))["last"]
        item = PortfolioItem(
            profile=profile,
            title=title.strip(),
            description=description.strip(),
            category=category,
            completed_on=completed_on,
            booking=booking,
            position=0 if last is None else last + 1,
        )
        _save_claiming_booking(item)
        _set_media(item, assets)
    return item


def portfolio_item_update(
    *,
    technician: User,
    item_id: int,
    title=_UNSET,
    description=_UNSET,
    category_id=_UNSET,
    media_ids=_UNSET,
    completed_on=_UNSET,
    booking_id=_UNSET,
) -> PortfolioItem:
    """Change the fields given (`media_ids` replaces the list; None clears category, date or booking)."""
    if completed_on is not _UNSET:
        _check_completed_on(completed_on)
    category = _category(category_id) if category_id is not _UNSET else _UNSET
    booking = _booking(technician, booking_id) if booking_id is not _UNSET else _UNSET
    assets = (
        media_resolve_owned(owner=technician, media_ids=media_ids, limit=MAX_PORTFOLIO_MEDIA)
        if media_ids is not _UNSET
        else _UNSET
    )
    with transaction.atomic():
        profile = _lock_profile(technician)
        item = _lock_own_item(profile, item_id)
        for name, value in (
            ("title", title),
            ("description", description),
            ("category", category),
            ("completed_on", completed_on),
            ("booking", booking),
        ):
            if value is not _UNSET:
                setattr(item, name, value.strip() if isinstance(value, str) else value)
        _save_claiming_booking(item)
        if assets is not _UNSET:
            _set_media(item, assets)
    return item


def portfolio_item_delete(*, technician: User, item_id: int) -> None:
    """Delete the item; its uploads stay in the technician's media (they may be used elsewhere)."""
    with transaction.atomic():
        profile = _lock_profile(technician)
        _lock_own_item(profile, item_id).delete()


def portfolio_reorder(*, technician: User, item_ids: list[int]) -> None:
    """Put the items in the order given; the list must name each of the technician's items exactly once."""
    with transaction.atomic():
        profile = _lock_profile(technician)
        items = {
            item.pk: item
            for item in PortfolioItem.objects.select_for_update().filter(profile=profile)
        }
        if len(item_ids) != len(set(item_ids)) or set(item_ids) != set(items):
            raise ValidationFailed(
                fields={"item_ids": ["List each of your portfolio items exactly once."]}
            )
        changed, now = [], timezone.now()
        for position, item_id in enumerate(item_ids):
            item = items[item_id]
            if item.position != position:
                item.position, item.updated_at = position, now  # bulk_update skips auto_now
                changed.append(item)
        PortfolioItem.objects.bulk_update(changed, ["position", "updated_at"])


def portfolio_item_moderate(
    *, item_id: int, actor: User, hidden: bool, reason: str = ""
) -> PortfolioItem:
    """Staff hide an item from the public profile (the owner still sees it, marked hidden) or show it
    again. Idempotent: hiding a hidden item keeps its first hiding's time and staff member."""
    with transaction.atomic():
        item = PortfolioItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None:
            raise PortfolioItemNotFound()
        if hidden and not item.is_hidden:
            item.is_hidden, item.hidden_at, item.hidden_by = True, timezone.now(), actor
            item.hidden_reason = reason.strip()
            item.save(
                update_fields=["is_hidden", "hidden_at", "hidden_by", "hidden_reason", "updated_at"]
            )
        elif not hidden and item.is_hidden:
            item.is_hidden, item.hidden_at, item.hidden_by, item.hidden_reason = (
                False,
                None,
                None,
                "",
            )
            item.save(
                update_fields=["is_hidden", "hidden_at", "hidden_by", "hidden_reason", "updated_at"]
            )
    return item
