from rest_framework.permissions import BasePermission


def model_permission(perm: str, *, staff: bool = False) -> type[BasePermission]:
    """An authenticated user holding `perm` (and is_staff when `staff`)."""

    class HasPermission(BasePermission):
        message = f"You need the {perm} permission" + (" as staff." if staff else ".")

        def has_permission(self, request, view) -> bool:
            user = request.user
            if not (user and user.is_authenticated):
                return False
            if staff and not user.is_staff:
                return False
            return user.has_perm(perm)

    HasPermission.__name__ = f"Has_{perm.replace('.', '_')}"
    return HasPermission
