"""Metric snapshots (read only) and the metrics page with the definitions and trends."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from atoc.center import selectors
from atoc.center.charts import sparkline
from atoc.center.choices import Metric
from atoc.center.dashboard import format_metric
from atoc.center.metrics import DEFINITIONS
from atoc.center.models import MetricSnapshot
from atoc.center.services.metrics import metrics_snapshot_take

TREND_WEEKS = 12


@admin.register(MetricSnapshot)
class MetricSnapshotAdmin(admin.ModelAdmin):
    """Daily values of the five metrics per scope; written by the snapshot job only."""

    list_display = ("day", "metric", "scope", "shown_value", "count", "window_days", "computed_at")
    list_filter = ("metric", "day")
    search_fields = ("scope",)
    date_hierarchy = "day"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="value", ordering="value")
    def shown_value(self, snapshot):
        return format_metric(snapshot.metric, snapshot.value)


def metrics_view(request):
    """The metrics page: each metric's definition, latest value per scope, trend."""
    if not request.user.has_perm("center.view_metricsnapshot"):
        raise PermissionDenied
    if request.method == "POST" and "_snapshot" in request.POST:
        if not request.user.has_perm("center.change_fleetreview"):
            raise PermissionDenied
        rows = metrics_snapshot_take()
        messages.success(request, f"Today's snapshot taken ({rows} values).")
        return HttpResponseRedirect(reverse("admin:center_metrics"))
    now = timezone.now()
    latest_day = MetricSnapshot.objects.aggregate(day=Max("day"))["day"]
    by_metric: dict[str, list] = defaultdict(list)
    if latest_day is not None:
        for row in MetricSnapshot.objects.filter(day=latest_day).order_by("metric", "scope"):
            by_metric[row.metric].append(row)
    trends = selectors.metric_trends(today=now.date(), weeks=TREND_WEEKS)
    sections = []
    for metric in Metric.values:
        definition = DEFINITIONS[metric]
        share = definition["unit"] == "share"
        rows = by_metric.get(metric, [])
        sections.append(
            {
                "metric": metric,
                "label": definition["label"],
                "definition": definition["definition"],
                "better": definition["better"],
                "chart": sparkline(
                    [row.value for row in trends.get(metric, [])],
                    width=360,
                    height=60,
                    low=0 if share else None,
                    high=1 if share else None,
                    label=f"{definition['label']} over {TREND_WEEKS} weeks",
                ),
                "rows": [
                    {
                        "scope": row.scope,
                        "value": format_metric(metric, row.value),
                        "count": row.count,
                        "details": _details(metric, row),
                    }
                    for row in rows
                ],
            }
        )
    window = next((rows[0].window_days for rows in by_metric.values() if rows), None)
    context = {
        **admin.site.each_context(request),
        "title": "Metrics of the center",
        "sections": sections,
        "latest_day": latest_day,
        "window_days": window,
        "trend_weeks": TREND_WEEKS,
        "can_snapshot": request.user.has_perm("center.change_fleetreview"),
    }
    return TemplateResponse(request, "admin/center/metrics.html", context)


def _details(metric: str, row: MetricSnapshot) -> str:
    d = row.details or {}
    if metric == Metric.TIME_TO_DECISION:
        if not row.count:
            return ""
        return (
            f"p50 {format_metric(metric, d.get('p50_seconds'))}, "
            f"p90 {format_metric(metric, d.get('p90_seconds'))}"
        )
    return f"{d.get('numerator', 0)} of {d.get('denominator', 0)}"
