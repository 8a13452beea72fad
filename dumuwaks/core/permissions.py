from rest_framework.permissions import BasePermission


def is_staff_member(user) -> bool:
    """Support agents and admins run the platform; Django's is_staff alone is not enough."""
    return bool(
        user and user.is_authenticated and (user.is_superuser or user.role in {"support", "admin"})
    )


def is_admin(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role == "admin"))


class IsStaffMember(BasePermission):
    message = "Only support staff and administrators may do this."

    def has_permission(self, request, view):
        return is_staff_member(request.user)


class IsAdmin(BasePermission):
    message = "Only administrators may do this."

    def has_permission(self, request, view):
        return is_admin(request.user)


class IsTechnician(BasePermission):
    message = "Only technicians may do this."

    def has_permission(self, request, view):
        return bool(
            request.user and request.user.is_authenticated and request.user.role == "technician"
        )


class IsCustomer(BasePermission):
    message = "Only customers may do this."

    def has_permission(self, request, view):
        return bool(
            request.user
            and request.user.is_authenticated
            and request.user.role in {"customer", "corporate"}
        )
