from importlib.util import find_spec

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework_simplejwt.views import TokenRefreshView, TokenVerifyView

from core.admin_views import lockouts_view
from core.api.views import WhoAmIApi
from core.tokens import LogoutApi, TokenObtainApi
from core.views import healthz

admin.site.site_header = "Frontline"
admin.site.site_title = "Frontline admin"
admin.site.index_title = "Back office"

api_v1 = [
    path("auth/token/", TokenObtainApi.as_view(), name="token-obtain"),
    path("auth/token/refresh/", TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/token/verify/", TokenVerifyView.as_view(), name="token-verify"),
    path("auth/logout/", LogoutApi.as_view(), name="token-logout"),
    path("auth/whoami/", WhoAmIApi.as_view(), name="whoami"),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Current xAPI and gift card lockouts, with "lift" (login lockouts: axes' own admin).
    path("admin/lockouts/", admin.site.admin_view(lockouts_view), name="admin-lockouts"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]


# Each domain app mounts its own routes: `<app>/api/urls.py` under /api/v1/ (paths inside
# name the resource, e.g. "gift-cards/"), and `<app>/urls.py` at the root for non-API pages
# (xAPI, provider webhooks, answer pages).
def _has_module(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except ModuleNotFoundError:  # the parent package (e.g. `<app>.api`) does not exist
        return False


for _app in settings.DOMAIN_APPS:
    if _has_module(f"{_app}.api.urls"):
        urlpatterns.append(path("api/v1/", include(f"{_app}.api.urls")))
    if _has_module(f"{_app}.urls"):
        urlpatterns.append(path("", include(f"{_app}.urls")))

handler400 = "core.errors_views.bad_request"
handler403 = "core.errors_views.permission_denied"
handler404 = "core.errors_views.page_not_found"
handler500 = "core.errors_views.server_error"

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
