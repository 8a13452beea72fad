from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from dumuwaks.core.errors import json_not_found
from dumuwaks.core.health import health

handler400 = "dumuwaks.core.errors.json_bad_request"
handler403 = "dumuwaks.core.errors.json_permission_denied"
handler404 = "dumuwaks.core.errors.json_not_found"
handler500 = "dumuwaks.core.errors.json_server_error"

api_v1 = [
    path("health", health, name="health-v1"),
    path("", include("accounts.urls")),
    path("", include("bookings.urls")),
    path("", include("matching.urls")),
    path("", include("payments.urls")),
    path("", include("social.urls")),
    path("", include("support.urls")),
    path("", include("notifications.urls")),
    path("", include("featurephone.urls")),
]

urlpatterns = [
    path("health", health, name="health"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api-docs", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("admin/", admin.site.urls),
    # Unknown API paths answer the JSON error body in every setting (with DEBUG on, Django's handler404 is
    # bypassed for its HTML debug page, so this is a view, not the handler). CSRF-exempt like every API
    # view, so a POST to a wrong path is a 404, not a CSRF 403.
    re_path(r"^api/", csrf_exempt(json_not_found)),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
