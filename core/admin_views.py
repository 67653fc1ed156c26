"""Admin pages of core that belong to no model: the current lockouts, with "lift"."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from core.lockouts import active_lockouts, lockout_lift

# The permissions of django-axes' login lockouts (AccessAttempt) govern these too: whoever
# may see or lift a login lockout may see or lift an xAPI or gift card one.
VIEW_PERMISSION = "axes.view_accessattempt"
LIFT_PERMISSION = "axes.delete_accessattempt"


def lockouts_view(request):
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied
    if request.method == "POST":
        if not request.user.has_perm(LIFT_PERMISSION):
            raise PermissionDenied
        name, _, subject = request.POST.get("lockout", "").partition("|")
        if name and subject:
            lockout_lift(name=name, subject=subject)
            messages.success(request, f"Lifted the {name} lockout of {subject}.")
        return redirect(reverse("admin-lockouts"))
    context = {
        **admin.site.each_context(request),
        "title": "Current lockouts",
        "lockouts": active_lockouts(),
        "can_lift": request.user.has_perm(LIFT_PERMISSION),
    }
    return TemplateResponse(request, "admin/core/lockouts.html", context)
