"""Top-level URL configuration.

The REST API lives under ``/api/v1/``: each app adds its routes with one
``include`` line. Errors under ``/api/`` — including Django's own 404 and 500 —
answer in the API's JSON error shape (``atoc.core.api.views``).
"""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from atoc.center.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("trust.api.urls")),
    path("api/v1/", include("escalations.api.urls")),
    path("api/v1/", include("atoc.center.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

handler400 = "atoc.core.api.views.bad_request"
handler403 = "atoc.core.api.views.permission_denied"
handler404 = "atoc.core.api.views.page_not_found"
handler500 = "atoc.core.api.views.server_error"
