"""The admin site whose first page is the fleet trust picture, plus the metrics page."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.urls import path


class AtocAdminSite(admin.AdminSite):
    """Django's admin with the fleet trust picture as its index page."""

    site_header = "ATOC — Agent Trust Operations Center"
    site_title = "ATOC"
    index_title = "Fleet trust picture"
    index_template = "admin/atoc_index.html"

    def index(self, request, extra_context=None):
        from atoc.center import dashboard  # models are not ready when the site is built

        context = {"fleet": dashboard.fleet_picture()}
        context.update(extra_context or {})
        return super().index(request, extra_context=context)

    def get_urls(self):
        from atoc.center.admin.metrics import metrics_view

        return [
            path("metrics/", self.admin_view(metrics_view), name="center_metrics"),
            *super().get_urls(),
        ]


class AtocAdminConfig(AdminConfig):
    default_site = "atoc.center.admin_site.AtocAdminSite"
