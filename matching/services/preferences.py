"""Customer preferences (weights, distance, price range, preferred technicians) and blocks."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import Role, User
from matching import selectors
from matching.errors import (
    FavouriteNotFound,
    InvalidPreferences,
    InvalidWeights,
    MatchTechnicianNotFound,
    TechnicianBlocked,
)
from matching.models import CustomerBlock, MatchingPreference
from matching.scoring import FACTORS, validate_weights
from matching.services.matches import lock_preference

_UNSET = object()


def matching_preferences_update(
    *,
    customer: User,
    weights=_UNSET,
    max_distance_km=_UNSET,
    price_min=_UNSET,
    price_max=_UNSET,
    preferred_technician_ids=_UNSET,
) -> MatchingPreference:
    """Update the fields given (others keep their value). New weights reset what was learned, because the
    learning bounds are relative to them. `weights=None` returns to the platform defaults."""
    if weights is not _UNSET and weights is not None:
        problems = validate_weights(weights)
        if problems:
            raise InvalidWeights(fields={"weights": problems})
        weights = {name: float(weights[name]) for name in FACTORS}
    if max_distance_km is not _UNSET and max_distance_km is not None and max_distance_km <= 0:
        raise InvalidPreferences(fields={"max_distance_km": ["Must be greater than 0."]})

    with transaction.atomic():
        preference = lock_preference(customer.pk)
        if weights is not _UNSET:
            preference.custom_weights = weights
            preference.learned_weights = None
            preference.learning_events = 0
        if max_distance_km is not _UNSET:
            preference.max_distance_km = max_distance_km
        if price_min is not _UNSET:
            preference.price_min = price_min
        if price_max is not _UNSET:
            preference.price_max = price_max
        if (
            preference.price_min is not None
            and preference.price_max is not None
            and preference.price_max < preference.price_min
        ):
            raise InvalidPreferences(
                fields={"price_max": ["Must be greater than or equal to priceMin."]}
            )
        preference.save()
        if preferred_technician_ids is not _UNSET:
            wanted = set(preferred_technician_ids or ())
            found = set(
                User.objects.filter(
                    pk__in=wanted, role=Role.TECHNICIAN, is_active=True
                ).values_list("pk", flat=True)
            )
            unknown = sorted(wanted - found)
            if unknown:
                raise InvalidPreferences(
                    fields={"preferred_technician_ids": [f"Unknown technicians: {unknown}."]}
                )
            blocked = sorted(
                CustomerBlock.objects.filter(
                    customer=customer, technician_id__in=wanted
                ).values_list("technician_id", flat=True)
            )
            if blocked:
                raise InvalidPreferences(
                    fields={"preferred_technician_ids": [f"You blocked technicians {blocked}."]}
                )
            preference.preferred_technicians.set(found)
    return selectors.preference_for(customer)


def customer_block_create(*, customer: User, technician_id: int) -> tuple[CustomerBlock, bool]:
    """Block a technician (idempotent: returns the existing block with created=False)."""
    technician = User.objects.filter(pk=technician_id, role=Role.TECHNICIAN).first()
    if technician is None:
        raise MatchTechnicianNotFound()
    try:
        with transaction.atomic():
            block = CustomerBlock.objects.create(customer=customer, technician=technician)
            preference = MatchingPreference.objects.filter(customer=customer).first()
            if preference is not None:
                preference.preferred_technicians.remove(technician)
    except IntegrityError:
        return CustomerBlock.objects.get(customer=customer, technician=technician), False
    return block, True


def customer_block_delete(*, customer: User, technician_id: int) -> None:
    deleted, _ = CustomerBlock.objects.filter(
        customer=customer, technician_id=technician_id
    ).delete()
    if not deleted:
        raise MatchTechnicianNotFound("You have not blocked this technician.")


def favourite_add(*, customer: User, technician_id: int) -> tuple[User, bool]:
    """Mark an active technician as a favourite (matching's preferred technicians, the customer
    preference factor). Idempotent: created=False when already one. A blocked technician is refused."""
    technician = (
        User.objects.filter(
            pk=technician_id, role=Role.TECHNICIAN, is_active=True, deleted_at__isnull=True
        )
        .select_related("technician_profile")
        .first()
    )
    if technician is None:
        raise MatchTechnicianNotFound()
    with transaction.atomic():
        preference = lock_preference(customer.pk)
        if CustomerBlock.objects.filter(customer=customer, technician=technician).exists():
            raise TechnicianBlocked()
        if preference.preferred_technicians.filter(pk=technician.pk).exists():
            return technician, False
        preference.preferred_technicians.add(technician)
    return technician, True


def favourite_remove(*, customer: User, technician_id: int) -> None:
    with transaction.atomic():
        preference = lock_preference(customer.pk)
        if not preference.preferred_technicians.filter(pk=technician_id).exists():
            raise FavouriteNotFound()
        preference.preferred_technicians.remove(technician_id)
