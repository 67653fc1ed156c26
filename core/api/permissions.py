"""Named-permission checks for API views: every staff action needs a Django permission;
is_staff alone opens nothing but the admin login page."""

from rest_framework.permissions import BasePermission


def requires(*perms: str) -> type[BasePermission]:
    """A DRF permission class: an authenticated, active user holding every one of `perms`
    (directly or through a role group). 403 otherwise, 401 when anonymous."""

    class RequiresPermissions(BasePermission):
        message = "You need the " + ", ".join(perms) + " permission."

        def has_permission(self, request, view) -> bool:
            user = request.user
            return bool(user and user.is_authenticated and user.has_perms(perms))

    RequiresPermissions.__name__ = "Requires_" + "_".join(p.replace(".", "_") for p in perms)
    return RequiresPermissions
