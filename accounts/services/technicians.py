from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Q

from accounts.errors import NotATechnician, UnknownCategory
from accounts.models import Role, ServiceCategory, TechnicianProfile, TechnicianSkill, User


def _resolve_categories(skills: list[dict]) -> dict[int, int]:
    """Map each requested skill to a category id -> years; unknown ids/slugs are a 400."""
    ids = {s["category_id"] for s in skills if s.get("category_id") is not None}
    slugs = {s["slug"] for s in skills if s.get("category_id") is None and s.get("slug")}
    found = ServiceCategory.objects.filter(Q(pk__in=ids) | Q(slug__in=slugs), is_active=True)
    by_id = {c.pk: c for c in found}
    by_slug = {c.slug: c for c in found}
    resolved: dict[int, int] = {}
    missing = []
    for skill in skills:
        category = (
            by_id.get(skill["category_id"])
            if skill.get("category_id") is not None
            else by_slug.get(skill.get("slug"))
        )
        if category is None:
            missing.append(str(skill.get("category_id") or skill.get("slug")))
            continue
        resolved[category.pk] = skill.get("years_of_experience", 0)
    if missing:
        raise UnknownCategory(
            fields={"skills": [f"Unknown service category: {m}" for m in missing]}
        )
    return resolved


def technician_profile_update(
    *,
    user: User,
    bio: str | None = None,
    hourly_rate: Decimal | None = None,
    service_radius_km: int | None = None,
    is_available: bool | None = None,
    skills: list[dict] | None = None,
) -> TechnicianProfile:
    """Update the technician's own profile; `skills`, when given, replaces the whole skill set."""
    if user.role != Role.TECHNICIAN:
        raise NotATechnician()
    resolved = _resolve_categories(skills) if skills is not None else None
    with transaction.atomic():
        profile, _ = TechnicianProfile.objects.select_for_update().get_or_create(user=user)
        updates = {
            "bio": bio,
            "hourly_rate": hourly_rate,
            "service_radius_km": service_radius_km,
            "is_available": is_available,
        }
        changed = [name for name, value in updates.items() if value is not None]
        for name in changed:
            setattr(profile, name, updates[name])
        if changed:
            profile.save(update_fields=[*changed, "updated_at"])
        if resolved is not None:
            TechnicianSkill.objects.filter(profile=profile).exclude(
                category_id__in=resolved
            ).delete()
            for category_id, years in resolved.items():
                TechnicianSkill.objects.update_or_create(
                    profile=profile,
                    category_id=category_id,
                    defaults={"years_of_experience": years},
                )
    return profile
